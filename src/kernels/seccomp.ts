/**
 * A seccomp filter for notebook sandboxes (bubblewrap's `--seccomp FD`), as a compiled BPF
 * program. It refuses, with EPERM, the system calls by which code could reach into another
 * process of its sandbox (its Jupyter Server: ptrace, process_vm_*, pidfd_getfd, kcmp) and
 * kernel interfaces a notebook has no use for that widen the attack surface (perf, keys, bpf,
 * userfaultfd, io_uring, mount, namespaces). System calls of another ABI (x32, 32-bit) are
 * refused whole, so that none of these can come in by another number.
 */

/** System call numbers by architecture (from the kernel's tables). */
const ARCHITECTURES: Record<string, { audit: number; x32?: boolean; denied: number[] }> = {
  // ptrace, process_vm_readv/writev, kcmp, pidfd_getfd, perf_event_open, add_key, request_key,
  // keyctl, bpf, userfaultfd, io_uring_setup/enter/register, mount, unshare, setns
  x64: {
    audit: 0xc000003e,
    x32: true,
    denied: [101, 310, 311, 312, 438, 298, 248, 249, 250, 321, 323, 425, 426, 427, 165, 272, 308],
  },
  arm64: {
    audit: 0xc00000b7,
    denied: [117, 270, 271, 272, 438, 241, 217, 218, 219, 280, 282, 425, 426, 427, 40, 97, 268],
  },
};

const BPF_LD_W_ABS = 0x20;
const BPF_JEQ_K = 0x15;
const BPF_JGE_K = 0x35;
const BPF_RET_K = 0x06;
const RET_ALLOW = 0x7fff0000;
const RET_EPERM = 0x00050000 | 1;
const X32_SYSCALL_BIT = 0x40000000;

/** The filter for this machine's architecture, or null where there is none (the sandbox then runs without). */
export function seccompProgram(arch: string = process.arch): Buffer | null {
  const table = ARCHITECTURES[arch];
  if (!table) return null;
  const program: [number, number, number, number][] = [
    [BPF_LD_W_ABS, 0, 0, 4], // seccomp_data.arch
    [BPF_JEQ_K, 1, 0, table.audit],
    [BPF_RET_K, 0, 0, RET_EPERM], // another ABI: nothing at all
    [BPF_LD_W_ABS, 0, 0, 0], // seccomp_data.nr
  ];
  if (table.x32) program.push([BPF_JGE_K, 0, 1, X32_SYSCALL_BIT], [BPF_RET_K, 0, 0, RET_EPERM]);
  for (const nr of table.denied) program.push([BPF_JEQ_K, 0, 1, nr], [BPF_RET_K, 0, 0, RET_EPERM]);
  program.push([BPF_RET_K, 0, 0, RET_ALLOW]);
  const out = Buffer.alloc(program.length * 8);
  program.forEach(([code, jt, jf, k], i) => {
    out.writeUInt16LE(code, i * 8);
    out.writeUInt8(jt, i * 8 + 2);
    out.writeUInt8(jf, i * 8 + 3);
    out.writeUInt32LE(k >>> 0, i * 8 + 4);
  });
  return out;
}
