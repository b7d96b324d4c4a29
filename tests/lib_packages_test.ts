import { ok, rejects, strictEqual } from "node:assert/strict";
import { Component, type ComponentClass } from "../core/model/component.ts";
import { Apt, DPKG, GroupAccount, User } from "../lib/packages.ts";
import { withProject } from "./support/project.ts";
import { requireTools, runCommand } from "./support/tools.ts";

function root(fn: (c: Component) => void): ComponentClass {
  return class MyComponent extends Component {
    override configure() {
      fn(this);
    }
  };
}

async function getent(db: string, name: string): Promise<string | null> {
  const result = await runCommand("getent", [db, name], { check: false });
  return result.code === 0 ? result.stdout.trim() : null;
}

Deno.test("DPKG/Apt: an installed package verifies; a missing one predicts an install", async () => {
  await requireTools("dpkg-query", "apt-get");
  await withProject(async (p) => {
    let apt!: Apt;
    await p.configure(root((c) => {
      c.add(new DPKG("coreutils"));
      apt = c.add(new Apt("dash"));
    }));
    await p.deploy();
    strictEqual(p.component.changed, false);
    ok(/^\d/.test((await apt.installedVersion()) ?? ""), "dash has a version");
    // A pinned version that is not installed needs an update (predicted only: nothing is installed).
    await p.configure(root((c) => c.add(new Apt("dash", { version: "0.0-not-a-version" }))));
    await p.deploy(true);
    ok(p.component.changed);
    await p.configure(root((c) => c.add(new Apt("batou-no-such-package"))));
    await p.deploy(true);
    ok(p.component.changed);
    strictEqual(await (p.component.subComponents[0] as Apt).installedVersion(), null);
  });
});

Deno.test("User and GroupAccount create throwaway accounts once", async () => {
  await requireTools("useradd", "groupadd", "userdel", "groupdel", "getent");
  if (Deno.uid() !== 0) throw new Error("this test creates accounts and needs root");
  const user = "batoutestacct";
  const group = "batoutestgrp";
  const cleanup = async () => {
    await runCommand("userdel", ["-r", user], { check: false });
    await runCommand("groupdel", [group], { check: false });
  };
  await cleanup();
  try {
    await withProject(async (p) => {
      const make = (shell: string) =>
        root((c) => {
          c.add(new GroupAccount(group, { system: true }));
          c.add(new User(user, { group, shell, comment: "batou test" }));
        });
      await p.configure(make("/bin/sh"));
      await p.deploy();
      ok(p.component.changed);
      const groupEntry = await getent("group", group);
      ok(groupEntry, "group exists");
      const gid = groupEntry!.split(":")[2];
      const entry = (await getent("passwd", user))!.split(":");
      strictEqual(entry[3], gid);
      strictEqual(entry[4], "batou test");
      strictEqual(entry[6], "/bin/sh");
      ok((await Deno.stat(entry[5])).isDirectory, "home created");
      await p.deploy();
      strictEqual(p.component.changed, false);
      // A changed shell is corrected with usermod.
      await p.configure(make("/bin/bash"));
      await p.deploy();
      strictEqual((await getent("passwd", user))!.split(":")[6], "/bin/bash");
    });
  } finally {
    await cleanup();
  }
  strictEqual(await getent("passwd", user), null);
});

Deno.test("creating accounts as another user than root is a clear error", async () => {
  // Only meaningful for non-root; as root, check the message of the predicate instead.
  await withProject(async (p) => {
    await p.configure(root((c) => c.add(new GroupAccount("batou-never-created-group"))));
    if (Deno.uid() === 0) {
      await p.deploy(true);
      ok(p.component.changed);
      strictEqual(await getent("group", "batou-never-created-group"), null);
    } else {
      await rejects(p.deploy(), /needs root/);
    }
  });
});
