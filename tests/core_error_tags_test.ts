/** Error classes travel between agent and controller by their registered tag, never by `constructor.name`. */
import { assert, assertEquals } from "./support/assert.ts";
import { throws as assertThrows } from "node:assert/strict";
import {
  ConfigurationError,
  errorFromJSON,
  type ErrorJSON,
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

Deno.test("errorFromJSON sets only the class's own fields, type-checked: no field replaces a method", () => {
  const back = errorFromJSON({
    type: "ConfigFileError",
    fields: JSON.parse(
      '{"message": "m", "file": "f.cfg", "lineNo": 3, "report": "x", "sortKey": 1, "__proto__": {"a": 1}, "extra": 2}',
    ),
  });
  assertEquals((back as unknown as Record<string, unknown>).a, undefined);
  assertEquals(typeof back.report, "function");
  assertEquals(back.sortKey, [0, "f.cfg", 3]);
  assertEquals((back as unknown as Record<string, unknown>).extra, undefined);
  assertEquals(Object.getPrototypeOf(back).constructor.name, "ConfigFileError");
  assertThrows(
    () => errorFromJSON({ type: "ConfigFileError", fields: { lineNo: "3" } }),
    /fields.lineNo must be a number, not a string/,
  );
  assertThrows(
    () => errorFromJSON({ type: "ConfigFileError", fields: null } as unknown as ErrorJSON),
    /fields must be an object, not null/,
  );
  assertThrows(
    () => errorFromJSON({ type: "MissingEnvironment", fields: { known: ["a", 1] } }),
    /fields.known must be a list of strings, not a list/,
  );
});
