import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { join } from "node:path";
import { Component, type ComponentClass } from "../core/model/component.ts";
import { AppEnv, Package, versionMatches, VirtualEnv } from "../lib/python.ts";
import { type TestProject, withProject } from "./support/project.ts";
import { requireTools, runCommand } from "./support/tools.ts";

function root(fn: (c: Component) => void): ComponentClass {
  return class MyComponent extends Component {
    override configure() {
      fn(this);
    }
  };
}

/** Writes pure-Python wheels `<name>-<version>-py3-none-any.whl` (with valid RECORDs) into `dir`. */
async function buildWheels(dir: string, packages: [string, string, string[]?][]): Promise<void> {
  await requireTools("python3");
  await Deno.mkdir(dir, { recursive: true });
  const script = `
import base64, hashlib, json, sys, zipfile
out, packages = sys.argv[1], json.loads(sys.argv[2])
for name, version, requires in packages:
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"VERSION = {version!r}\\n",
        f"{info}/METADATA": "Metadata-Version: 2.1\\nName: %s\\nVersion: %s\\n%s" % (
            name, version, "".join(f"Requires-Dist: {r}\\n" for r in requires or [])),
        f"{info}/WHEEL": "Wheel-Version: 1.0\\nGenerator: batou-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
    }
    record = []
    with zipfile.ZipFile(f"{out}/{name}-{version}-py3-none-any.whl", "w") as z:
        for path, text in files.items():
            data = text.encode()
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{path},sha256={digest},{len(data)}")
            z.writestr(path, data)
        record.append(f"{info}/RECORD,,")
        z.writestr(f"{info}/RECORD", "\\n".join(record) + "\\n")
`;
  await runCommand("python3", ["-c", script, dir, JSON.stringify(packages)]);
}

async function wheelhouse(p: TestProject): Promise<string[]> {
  const dir = join(p.baseDir, "wheels");
  await buildWheels(dir, [["alpha", "1.0", []], ["alpha", "2.0", []], ["beta", "1.0", ["alpha"]]]);
  return ["--no-index", "--find-links", dir];
}

async function listAppenv(p: TestProject): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(join(p.workdir, ".appenv")))).map((e) => e.name).sort();
}

Deno.test("versionMatches compares dotted prefixes", () => {
  ok(versionMatches("3.11.2\n", "3"));
  ok(versionMatches("3.11.2", "3.11"));
  ok(!versionMatches("3.11.2", "3.1"));
  ok(!versionMatches("2.7.18", "3"));
});

Deno.test("AppEnv: hashed envs rotate, keeping the current and the previous one", async () => {
  await withProject(async (p) => {
    const opts = await wheelhouse(p);
    await p.writeDefdir("requirements.lock", "alpha==1.0\n");
    let appenv!: AppEnv;
    const cls = root((c) => appenv = c.add(new AppEnv("3", { installOptions: opts })));
    await p.configure(cls);
    await p.deploy();
    ok(p.component.changed);
    ok((await Deno.stat(join(p.workdir, "bin", "python3"))).isFile);
    const version = await runCommand(join(p.workdir, "bin", "python"), ["-c", "import alpha; print(alpha.VERSION)"]);
    strictEqual(version.stdout.trim(), "1.0");
    const hashes = await listAppenv(p);
    strictEqual(hashes.length, 2);
    const firstHash = hashes.find((h) => h !== "current")!;
    strictEqual(firstHash, appenv.envHash);
    strictEqual(appenv.breadcrumb, `AppEnv('${firstHash}')`);

    // Running it twice doesn't change anything.
    await p.configure(cls);
    await p.deploy();
    strictEqual(p.component.changed, false);
    deepStrictEqual(await listAppenv(p), hashes);

    // Changing the requirements builds a new env; the old one stays for rollback.
    await p.writeDefdir("requirements.lock", "# comment\nalpha==2.0\n");
    await p.configure(cls);
    await p.deploy();
    const hashes3 = await listAppenv(p);
    strictEqual(hashes3.length, 3);
    const secondHash = hashes3.find((h) => h !== "current" && h !== firstHash)!;
    strictEqual(appenv.lastEnvHash, firstHash);
    strictEqual(appenv.envHash, secondHash);
    const v2 = await runCommand(join(p.workdir, "bin", "python"), ["-c", "import alpha; print(alpha.VERSION)"]);
    strictEqual(v2.stdout.trim(), "2.0");

    // Changing them again removes the first env.
    await p.writeDefdir("requirements.lock", "# another comment\nalpha==2.0\n");
    await p.configure(cls);
    await p.deploy();
    const hashes4 = await listAppenv(p);
    strictEqual(hashes4.length, 3);
    ok(hashes4.includes("current"));
    ok(hashes4.includes(secondHash));
    ok(!hashes4.includes(firstHash));
  });
});

Deno.test("AppEnv: pip's output is shown when it fails, and pip check catches missing dependencies", async () => {
  await withProject(async (p) => {
    const opts = await wheelhouse(p);
    await p.writeDefdir("requirements.lock", "gamma==1.0\n");
    await p.configure(root((c) => c.add(new AppEnv("3", { installOptions: opts }))));
    await rejects(p.deploy(), (e: Error & { stdout?: string; stderr?: string }) => {
      strictEqual(e.name, "CmdExecutionError");
      ok(/No matching distribution found for gamma==1.0/.test(`${e.stdout}${e.stderr}`), e.message);
      return true;
    });
    // beta requires alpha, which the lock file lacks: pip check fails.
    await p.writeDefdir("requirements.lock", "beta==1.0\n");
    await p.configure(root((c) => c.add(new AppEnv("3", { installOptions: opts }))));
    await rejects(p.deploy(), (e: Error & { stdout?: string }) => /beta 1.0 requires alpha/.test(e.stdout ?? ""));
    // Nothing was switched to a broken env.
    await rejects(Deno.lstat(join(p.workdir, ".appenv", "current")));
  });
});

Deno.test("AppEnv without a lock file is a configuration error", async () => {
  await withProject(async (p) => {
    await rejects(p.configure(root((c) => c.add(new AppEnv("3")))), /AppEnv needs a lock file/);
  });
});

Deno.test("VirtualEnv and Package install pinned packages once", async () => {
  await withProject(async (p) => {
    const opts = await wheelhouse(p);
    const make = (version: string) =>
      root((c) => {
        const venv = c.add(new VirtualEnv("3", { path: "venv" }));
        venv.add(new Package("alpha", { version, installOptions: opts }));
        venv.add(new Package("beta", { version: "1.0", dependencies: false, installOptions: opts }));
      });
    await p.configure(make("1.0"));
    await p.deploy();
    const py = join(p.workdir, "venv", "bin", "python");
    strictEqual((await runCommand(py, ["-c", "import alpha; print(alpha.VERSION)"])).stdout.trim(), "1.0");
    await p.deploy();
    strictEqual(p.component.changed, false);
    await p.configure(make("2.0"));
    await p.deploy();
    strictEqual((await runCommand(py, ["-c", "import alpha; print(alpha.VERSION)"])).stdout.trim(), "2.0");
  });
});

Deno.test("Package outside a VirtualEnv is an error", async () => {
  await withProject(async (p) => {
    await rejects(
      p.configure(root((c) => c.add(new Package("alpha")))),
      /Package\(\) must be added to a virtual environment/,
    );
  });
});
