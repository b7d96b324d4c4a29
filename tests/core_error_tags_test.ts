/** Error classes travel between agent and controller by their registered tag, never by `constructor.name`. */
import { assert, assertEquals } from "./support/assert.ts";
import { throws as assertThrows } from "node:assert/strict";
import {
  ConfigurationError,
  errorFromJSON,
  FileLockedError,
  registerErrorClass,
  ReportingError,
} from "../core/model/errors.ts";

Deno.test("a class renamed by a bundler still travels under its tag", () => {
  // What a minifier makes of `class FileLockedError`: the same class under another name.
  const renamed = FileLockedError;
  Object.defineProperty(renamed, "name", { value: "a" });
  try {
    const json = FileLockedError.of("/x/.batou-lock").toJSON();
    assertEquals(json.type, "FileLockedError");
    assert(errorFromJSON(json) instanceof FileLockedError);
  } finally {
    Object.defineProperty(renamed, "name", { value: "FileLockedError" });
  }
});

Deno.test("an unregistered subclass travels as its nearest registered ancestor; unknown tags as UnexpectedError", () => {
  class LocalError extends ConfigurationError {}
  const e = new LocalError();
  e.message = "local";
  const json = e.toJSON();
  assertEquals(json.type, "ConfigurationError");
  const back = errorFromJSON(json);
  assertEquals(back.constructor, ConfigurationError);
  assertEquals(back.message, "local");
  assertEquals(errorFromJSON({ type: "NoSuchTag", fields: { message: "m" } }).constructor.name, "UnexpectedError");
});

Deno.test("a tag names one class", () => {
  class Other extends ReportingError {}
  assertThrows(() => registerErrorClass("FileLockedError", Other), /registered for another class/);
  registerErrorClass("ConfigurationError", ConfigurationError); // the same pair again is fine
});
