// Instantiates the project's standalone wasm module (client-wasm/) synchronously, in a page or in
// the AudioWorkletGlobalScope (which has no fetch): the caller compiles the module and passes it.
// The module needs four WASI calls; only fd_write does anything (its text goes to the console).
// No TextDecoder here: the AudioWorkletGlobalScope does not have one.
export function instantiate(module) {
  let memory;
  const wasi = {
    proc_exit: (code) => { throw new Error(`wasm module exited with ${code}`); },
    fd_close: () => 0,
    fd_seek: () => 70, // ESPIPE: no files here
    fd_write: (fd, iovs, iovsLen, nwritten) => {
      const view = new DataView(memory.buffer);
      let total = 0;
      let text = '';
      for (let i = 0; i < iovsLen; i++) {
        const ptr = view.getUint32(iovs + i * 8, true);
        const len = view.getUint32(iovs + i * 8 + 4, true);
        text += String.fromCharCode(...new Uint8Array(memory.buffer, ptr, Math.min(len, 1024)));
        total += len;
      }
      view.setUint32(nwritten, total, true);
      if (text.trim()) console.warn(`[ptt wasm] ${text.trim()}`);
      return 0;
    },
  };
  const imports = { wasi_snapshot_preview1: {} };
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.kind !== 'function') continue;
    imports[imp.module] ??= {};
    imports[imp.module][imp.name] = wasi[imp.name] ?? (() => 0);
  }
  const instance = new WebAssembly.Instance(module, imports);
  memory = instance.exports.memory;
  instance.exports._initialize?.();
  return instance.exports;
}
