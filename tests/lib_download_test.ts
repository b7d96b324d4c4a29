import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { Component, type ComponentClass } from "../core/model/component.ts";
import { Download, maskPassword } from "../lib/download.ts";
import { withProject } from "./support/project.ts";

function root(fn: (c: Component) => void): ComponentClass {
  return class MyComponent extends Component {
    override configure() {
      fn(this);
    }
  };
}

const PAYLOAD = new TextEncoder().encode("x".repeat(100_000) + "payload\n");
const SHA256 = createHash("sha256").update(PAYLOAD).digest("hex");

/** A local HTTP server on 127.0.0.1 that counts requests per path. */
async function withServer(fn: (base: string, hits: Map<string, number>, auth: string[]) => Promise<void>) {
  const hits = new Map<string, number>();
  const auth: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    auth.push(req.headers.get("authorization") ?? "");
    if (path === "/file.bin") return new Response(PAYLOAD);
    if (path === "/redirect") return Response.redirect(new URL("/file.bin", req.url), 302);
    return new Response("nope", { status: 404, statusText: "Not Found" });
  });
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`, hits, auth);
  } finally {
    await server.shutdown();
  }
}

Deno.test("Download fetches once, verifies the checksum and changes nothing on the second deploy", async () => {
  await withServer(async (base, hits) => {
    await withProject(async (p) => {
      let dl!: Download;
      await p.configure(root((c) => dl = c.add(new Download(`${base}/file.bin`, { checksum: `sha256:${SHA256}` }))));
      strictEqual(dl.target, join(p.workdir, "file.bin"));
      await p.deploy();
      ok(p.component.changed);
      deepStrictEqual(await Deno.readFile(dl.target), PAYLOAD);
      await p.deploy();
      strictEqual(p.component.changed, false);
      strictEqual(hits.get("/file.bin"), 1);
      // A changed file is downloaded again.
      await Deno.writeTextFile(dl.target, "garbage");
      await p.deploy();
      ok(p.component.changed);
      deepStrictEqual(await Deno.readFile(dl.target), PAYLOAD);
      // No temporary files are left behind.
      deepStrictEqual([...Deno.readDirSync(p.workdir)].map((e) => e.name), ["file.bin"]);
    });
  });
});

Deno.test("Download follows redirects and supports sha512 and md5 and a target name", async () => {
  await withServer(async (base) => {
    await withProject(async (p) => {
      const sha512 = createHash("sha512").update(PAYLOAD).digest("hex");
      const md5 = createHash("md5").update(PAYLOAD).digest("hex");
      await p.configure(root((c) => {
        c.add(new Download(`${base}/redirect`, { target: "a.bin", checksum: `sha512:${sha512}` }));
        c.add(new Download(`${base}/file.bin`, { target: "b.bin", checksum: `MD5:${md5.toUpperCase()}` }));
      }));
      await p.deploy();
      deepStrictEqual(await Deno.readFile(join(p.workdir, "a.bin")), PAYLOAD);
      deepStrictEqual(await Deno.readFile(join(p.workdir, "b.bin")), PAYLOAD);
      await p.deploy();
      strictEqual(p.component.changed, false);
    });
  });
});

Deno.test("update raises AssertionError on checksum mismatch with the exact message and keeps the old file", async () => {
  await withServer(async (base) => {
    await withProject(async (p) => {
      await p.writeWorkdir("file.bin", "old content");
      await p.configure(root((c) => c.add(new Download(`${base}/file.bin`, { checksum: "sha256:1234" }))));
      await rejects(p.deploy(), (e: Error) => {
        strictEqual(e.name, "AssertionError");
        strictEqual(e.message, `Checksum mismatch!\nexpected: 1234\ngot: ${SHA256}`);
        return true;
      });
      strictEqual(await Deno.readTextFile(join(p.workdir, "file.bin")), "old content");
      deepStrictEqual([...Deno.readDirSync(p.workdir)].map((e) => e.name), ["file.bin"]);
    });
  });
});

Deno.test("configure raises 'No checksum given.' without a checksum", async () => {
  await withProject(async (p) => {
    await rejects(
      p.configure(root((c) => c.add(new Download("http://127.0.0.1/url")))),
      (e: Error) => e.name === "ConfigurationError" && e.message === "No checksum given.",
    );
    await rejects(
      p.configure(root((c) => c.add(new Download("http://127.0.0.1/", { checksum: "sha256:00" })))),
      /No target is given/,
    );
    await rejects(
      p.configure(root((c) => c.add(new Download("http://127.0.0.1/x", { checksum: "nohash:00" })))),
      /Unknown checksum algorithm `nohash`/,
    );
  });
});

Deno.test("breadcrumbs do not show the password, which is sent as basic auth", async () => {
  strictEqual(maskPassword("http://me:mypw@myhost/file.name"), "http://me:*****@myhost/file.name");
  strictEqual(maskPassword("http://myhost/file.name"), "http://myhost/file.name");
  await withServer(async (base, _hits, auth) => {
    await withProject(async (p) => {
      const url = base.replace("http://", "http://me:s3cret@") + "/file.bin";
      let dl!: Download;
      await p.configure(root((c) => dl = c.add(new Download(url, { checksum: `sha256:${SHA256}` }))));
      strictEqual(dl.breadcrumb, `Download('${base.replace("http://", "http://me:*****@")}/file.bin')`);
      await p.deploy();
      deepStrictEqual(auth, [`Basic ${btoa("me:s3cret")}`]);
      ok(!p.lines.join("\n").includes("s3cret"), p.lines.join("\n"));
    });
  });
});

Deno.test("an HTTP error names the status and not the password", async () => {
  await withServer(async (base) => {
    await withProject(async (p) => {
      const url = base.replace("http://", "http://me:s3cret@") + "/missing";
      await p.configure(root((c) => c.add(new Download(url, { checksum: "sha256:00" }))));
      await rejects(p.deploy(), (e: Error) => {
        ok(/HTTP 404 Not Found/.test(e.message), e.message);
        ok(!e.message.includes("s3cret"));
        return true;
      });
    });
  });
});
