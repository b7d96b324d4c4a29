/**
 * The signal handling of `batou deploy` (remote/controller/interrupt.ts) in a real child process that receives real
 * signals and would otherwise run forever (a run that hangs): before the deploy step the first signal stops at once
 * and the process exits with 130 within the grace time even if the run does not end; during the deploy step the
 * first signal only asks for a stop, and the second one exits within the grace time.
 */
import { assert, assertEquals, assertStringIncludes } from "./support/assert.ts";
import { join } from "../core/runtime/path.ts";
import { REPO } from "./support/cli.ts";

const GRACE_MS = 300;

/** A child that installs an {@linkcode Interrupt} in `stage` and then hangs; it prints "ready" when listening. */
function hangingRun(stage: "preparing" | "deploying"): {
  child: Deno.ChildProcess;
  ready: Promise<void>;
  result: Promise<{ code: number; output: string }>;
} {
  const script = `import { Interrupt } from ${JSON.stringify(`file://${join(REPO, "remote/controller/interrupt.ts")}`)};
const interrupt = new Interrupt(${GRACE_MS});
interrupt.stage = ${JSON.stringify(stage)};
interrupt.install();
setInterval(() => {}, 1000);
console.log("ready");
`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", script],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Both streams in one text (the run's messages go to stdout).
  let text = "";
  const { promise: ready, resolve: readyNow } = Promise.withResolvers<void>();
  const collect = (stream: ReadableStream<Uint8Array>) =>
    stream.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({
        write: (s) => {
          text += s;
          if (text.includes("ready\n")) readyNow();
        },
      }),
    );
  const streams = Promise.all([collect(child.stdout), collect(child.stderr)]);
  const result = (async () => {
    const status = await child.status;
    await streams;
    readyNow();
    return { code: status.code, output: text };
  })();
  return { child, ready, result };
}

/** The child's result if it ends within `ms`, else null (the child is killed then). */
async function endsWithin(
  run: ReturnType<typeof hangingRun>,
  ms: number,
): Promise<{ code: number; output: string } | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), ms));
  const r = await Promise.race([run.result, late]);
  clearTimeout(timer);
  return r;
}

async function stop(run: ReturnType<typeof hangingRun>): Promise<void> {
  try {
    run.child.kill("SIGKILL");
  } catch { /* ended */ }
  await run.result;
}

Deno.test("before the deploy step, one signal exits with 130 within the grace time even if the run hangs", async () => {
  const run = hangingRun("preparing");
  try {
    await run.ready;
    run.child.kill("SIGINT");
    const r = await endsWithin(run, GRACE_MS + 5000);
    assert(r !== null, "the hanging run did not exit after one signal");
    assertEquals(r.code, 130, r.output);
    assertStringIncludes(r.output, "Interrupted: nothing has been deployed yet; stopping now");
  } finally {
    await stop(run);
  }
});

Deno.test("during the deploy step, one signal does not exit; a second one exits with 130 within the grace time", async () => {
  const run = hangingRun("deploying");
  try {
    await run.ready;
    run.child.kill("SIGTERM");
    assertEquals(await endsWithin(run, GRACE_MS * 4), null, "one signal during the deploy step ended the run");
    run.child.kill("SIGTERM");
    const r = await endsWithin(run, GRACE_MS + 5000);
    assert(r !== null, "the hanging run did not exit after the second signal");
    assertEquals(r.code, 130, r.output);
    assertStringIncludes(r.output, "Received SIGTERM: no new component starts");
    assertStringIncludes(r.output, "Stopping at once (SIGTERM).");
  } finally {
    await stop(run);
  }
});
