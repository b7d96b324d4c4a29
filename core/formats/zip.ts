/**
 * Reading zip archives without `unzip` on the target: the central directory is
 * parsed here (zip64 included), stored and deflated members are decompressed
 * with node:zlib (loaded when the first member is read) and checked against their CRC-32.
 *
 * @module
 */

type Zlib = typeof import("node:zlib");
let zlibModule: Zlib | null = null;

/** node:zlib, loaded on first use (importing it with the library would cost every agent start). */
function zlib(): Zlib {
  const { process } = globalThis as unknown as { process: { getBuiltinModule(id: string): unknown } };
  return zlibModule ??= process.getBuiltinModule("node:zlib") as Zlib;
}

/** One member of a zip archive. */
export interface ZipEntry {
  /** The name as stored (`/`-separated; directories end with `/`). */
  name: string;
  /** Whether the entry is a directory. */
  isDirectory: boolean;
  /** Whether the entry is a symbolic link (its data is the link target). */
  isSymlink: boolean;
  /** Unix permission bits when the archive recorded them, else null. */
  mode: number | null;
  /** Compression method (0 stored, 8 deflate). */
  method: number;
  compressedSize: number;
  size: number;
  crc: number;
  /** Offset of the local file header. */
  localOffset: number;
  /** General purpose flags. */
  flags: number;
}

/** A zip archive could not be read. */
export class ZipError extends Error {
  override name = "ZipError";
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

function u64(view: DataView, offset: number): number {
  const value = view.getBigUint64(offset, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipError("zip64 value too large");
  return Number(value);
}

/** A zip archive held in memory. */
export class ZipArchive {
  readonly entries: ZipEntry[];
  readonly #data: Uint8Array;
  readonly #view: DataView;

  constructor(data: Uint8Array) {
    this.#data = data;
    this.#view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.entries = this.#readCentralDirectory();
  }

  /** Reads the archive at `path`. */
  static async open(path: string): Promise<ZipArchive> {
    return new ZipArchive(await Deno.readFile(path));
  }

  #findEndOfCentralDirectory(): number {
    const view = this.#view;
    const min = Math.max(0, this.#data.length - 22 - 0xffff);
    for (let i = this.#data.length - 22; i >= min; i--) {
      if (view.getUint32(i, true) === EOCD) return i;
    }
    throw new ZipError("not a zip archive (no end of central directory record)");
  }

  #readCentralDirectory(): ZipEntry[] {
    const view = this.#view;
    const eocd = this.#findEndOfCentralDirectory();
    let count = view.getUint16(eocd + 10, true);
    let offset = view.getUint32(eocd + 16, true);
    if (count === 0xffff || offset === 0xffffffff) {
      const locator = eocd - 20;
      if (locator < 0 || view.getUint32(locator, true) !== ZIP64_LOCATOR) {
        throw new ZipError("zip64 end of central directory locator missing");
      }
      const record = u64(view, locator + 8);
      if (view.getUint32(record, true) !== ZIP64_EOCD) throw new ZipError("zip64 end of central directory missing");
      count = u64(view, record + 32);
      offset = u64(view, record + 48);
    }
    const entries: ZipEntry[] = [];
    const utf8 = new TextDecoder("utf-8");
    const latin1 = new TextDecoder("latin1");
    for (let i = 0; i < count; i++) {
      if (offset + 46 > this.#data.length || view.getUint32(offset, true) !== CENTRAL) {
        throw new ZipError(`corrupt central directory (entry ${i})`);
      }
      const madeBy = view.getUint16(offset + 4, true);
      const flags = view.getUint16(offset + 8, true);
      const method = view.getUint16(offset + 10, true);
      const crc = view.getUint32(offset + 16, true);
      let compressedSize = view.getUint32(offset + 20, true);
      let size = view.getUint32(offset + 24, true);
      const nameLength = view.getUint16(offset + 28, true);
      const extraLength = view.getUint16(offset + 30, true);
      const commentLength = view.getUint16(offset + 32, true);
      const external = view.getUint32(offset + 38, true);
      let localOffset = view.getUint32(offset + 42, true);
      const nameBytes = this.#data.subarray(offset + 46, offset + 46 + nameLength);
      const name = (flags & 0x800 ? utf8 : latin1).decode(nameBytes);
      // zip64 extended information: present fields replace the 0xffffffff ones, in this order.
      let extra = offset + 46 + nameLength;
      const extraEnd = extra + extraLength;
      while (extra + 4 <= extraEnd) {
        const id = view.getUint16(extra, true);
        const length = view.getUint16(extra + 2, true);
        if (id === 0x0001) {
          let p = extra + 4;
          if (size === 0xffffffff) size = u64(view, p), p += 8;
          if (compressedSize === 0xffffffff) compressedSize = u64(view, p), p += 8;
          if (localOffset === 0xffffffff) localOffset = u64(view, p);
        }
        extra += 4 + length;
      }
      const unixMode = (madeBy >> 8) === 3 ? external >>> 16 : 0;
      const type = unixMode & 0o170000;
      entries.push({
        name,
        isDirectory: name.endsWith("/") || type === 0o040000 || (unixMode === 0 && (external & 0x10) !== 0),
        isSymlink: type === 0o120000,
        mode: unixMode ? unixMode & 0o7777 : null,
        method,
        compressedSize,
        size,
        crc,
        localOffset,
        flags,
      });
      offset = extraEnd + commentLength;
    }
    return entries;
  }

  /** The uncompressed bytes of `entry`, checked against its CRC-32. */
  read(entry: ZipEntry): Uint8Array {
    if (entry.flags & 0x1) throw new ZipError(`${entry.name}: encrypted entries are not supported`);
    const view = this.#view;
    const at = entry.localOffset;
    if (at + 30 > this.#data.length || view.getUint32(at, true) !== LOCAL) {
      throw new ZipError(`${entry.name}: local header missing`);
    }
    const start = at + 30 + view.getUint16(at + 26, true) + view.getUint16(at + 28, true);
    const raw = this.#data.subarray(start, start + entry.compressedSize);
    let data: Uint8Array;
    if (entry.method === 0) data = raw;
    else if (entry.method === 8) data = new Uint8Array(zlib().inflateRawSync(raw));
    else throw new ZipError(`${entry.name}: unsupported compression method ${entry.method}`);
    if (data.length !== entry.size || (zlib().crc32(data) >>> 0) !== entry.crc) {
      throw new ZipError(`${entry.name}: checksum error (corrupt archive)`);
    }
    return data;
  }
}
