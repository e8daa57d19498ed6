#include "ptt/codec.hpp"

#include <opus.h>

#include <algorithm>

namespace ptt::codec {

void Encoder::Deleter::operator()(OpusEncoder* e) const noexcept { opus_encoder_destroy(e); }
void Decoder::Deleter::operator()(OpusDecoder* d) const noexcept { opus_decoder_destroy(d); }

Encoder::Encoder(const EncoderConfig& c) noexcept {
  if (c.frame_ms != 10 && c.frame_ms != 20) {
    error_ = OPUS_BAD_ARG;
    return;
  }
  frame_samples_ = kSampleRate / 1000 * c.frame_ms;
  OpusEncoder* enc = opus_encoder_create(kSampleRate, kChannels, OPUS_APPLICATION_VOIP, &error_);
  if (enc == nullptr || error_ != OPUS_OK) return;
  state_.reset(enc);
  const int settings[] = {
      opus_encoder_ctl(enc, OPUS_SET_BITRATE(c.bitrate)),
      opus_encoder_ctl(enc, OPUS_SET_COMPLEXITY(c.complexity)),
      opus_encoder_ctl(enc, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE)),
      opus_encoder_ctl(enc, OPUS_SET_INBAND_FEC(c.inband_fec ? 1 : 0)),
      opus_encoder_ctl(enc, OPUS_SET_PACKET_LOSS_PERC(c.expected_loss_percent)),
      opus_encoder_ctl(enc, OPUS_SET_DTX(c.dtx ? 1 : 0)),
  };
  for (int status : settings) {
    if (status != OPUS_OK) {
      error_ = status;
      state_.reset();
      return;
    }
  }
}

void Encoder::reset() noexcept {
  if (state_) opus_encoder_ctl(state_.get(), OPUS_RESET_STATE);
}

int Encoder::lookahead() const noexcept {
  opus_int32 samples = 0;
  if (!state_ || opus_encoder_ctl(state_.get(), OPUS_GET_LOOKAHEAD(&samples)) != OPUS_OK) return 0;
  return samples;
}

int Encoder::encode(const float* pcm, std::uint8_t* packet, std::size_t capacity) noexcept {
  if (!state_) return OPUS_INVALID_STATE;
  const auto cap = static_cast<opus_int32>(std::min(capacity, audio_format::kMaxOpusPacket));
  return opus_encode_float(state_.get(), pcm, frame_samples_, packet, cap);
}

Decoder::Decoder() noexcept {
  OpusDecoder* dec = opus_decoder_create(kSampleRate, kChannels, &error_);
  if (dec != nullptr && error_ == OPUS_OK) state_.reset(dec);
}

int Decoder::decode(const std::uint8_t* packet, std::size_t size, float* pcm, int capacity) noexcept {
  if (!state_) return OPUS_INVALID_STATE;
  if (packet == nullptr || size == 0) return OPUS_BAD_ARG;
  return clipped(opus_decode_float(state_.get(), packet, static_cast<opus_int32>(size), pcm, capacity, 0), pcm);
}

int Decoder::decode_fec(const std::uint8_t* next_packet, std::size_t size, float* pcm, int samples) noexcept {
  if (!state_) return OPUS_INVALID_STATE;
  return clipped(opus_decode_float(state_.get(), next_packet, static_cast<opus_int32>(size), pcm, samples, 1), pcm);
}

int Decoder::conceal(float* pcm, int samples) noexcept {
  if (!state_) return OPUS_INVALID_STATE;
  return clipped(opus_decode_float(state_.get(), nullptr, 0, pcm, samples, 0), pcm);
}

int Decoder::clipped(int samples, float* pcm) noexcept {
  if (samples > 0) opus_pcm_soft_clip(pcm, samples, kChannels, &softclip_memory_);
  return samples;
}

void Decoder::reset() noexcept {
  if (state_) opus_decoder_ctl(state_.get(), OPUS_RESET_STATE);
  softclip_memory_ = 0.0f;
}

}  // namespace ptt::codec
