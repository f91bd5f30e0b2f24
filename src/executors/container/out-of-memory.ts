import type { DockerClient } from './engine-client';

/** 128 + SIGKILL: what the kernel's OOM killer leaves as a container's exit code. */
const killedExitCode = 137;
/** The engine learns of an OOM kill from a separate event that can land just after the exit; look again for this long. */
const flagSettleMs = 1000;

export type OutOfMemoryVerdict = 'certain' | 'likely' | 'no';

/**
 * Whether a step's container died for memory. `certain` when the engine
 * flagged it OOMKilled; `likely` when it was SIGKILLed (exit 137) under a
 * memory limit without the flag: the kernel can kill a process inside the
 * container without flagging the container, and the flag can arrive after
 * the exit. Callers only ask about containers that exited by themselves (not
 * ones the executor killed on cancel or timeout).
 */
export async function outOfMemoryVerdict(docker: DockerClient, containerId: string | undefined, exitCode: number, memoryMb: number | undefined): Promise<OutOfMemoryVerdict> {
  if (!containerId) return 'no';
  const deadline = Date.now() + (exitCode === killedExitCode ? flagSettleMs : 0);
  for (;;) {
    const flagged = await docker
      .getContainer(containerId)
      .inspect()
      .then((info) => info.State?.OOMKilled === true)
      .catch(() => false);
    if (flagged) return 'certain';
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return exitCode === killedExitCode && memoryMb !== undefined ? 'likely' : 'no';
}
