/**
 * A small `EventEmitter` with the behaviour of `node:events` for the methods packages call (`on`, `once`, `off`,
 * `emit`, `prependListener`, `removeAllListeners`, `listeners`, `listenerCount`, `eventNames`, max listeners), for
 * the agent bundle's `require("node:events")` (core/runtime/bundle_require.ts): nunjucks derives its loaders and its
 * environment from `EventEmitter` when it is loaded, and the real one would initialise Deno's Node compatibility
 * layer (~10 ms of CPU) for that alone.
 *
 * Like Node's, it is a plain function that subclasses in ES5 style call as `EventEmitter.call(this)`; listeners run
 * in order on a copy of the list (listeners added or removed during an emit take effect with the next one), a
 * `"newListener"` listener hears of every listener before it is added and a `"removeListener"` listener of every
 * removal, an `"error"` event without a listener throws, and more than `getMaxListeners()` listeners for one event
 * give Node's "MaxListenersExceededWarning" once.
 *
 * @example
 * ```ts
 * import { EventEmitter } from "./events.ts";
 * const e = new EventEmitter();
 * e.once("load", (name: string) => console.log(name));
 * e.emit("load", "a.j2"); // true, logs a.j2
 * e.emit("load", "b.j2"); // false
 * ```
 * @module
 */

/** An event listener. */
// deno-lint-ignore no-explicit-any
export type Listener = (...args: any[]) => void;

/** A `once` wrapper: calls `listener` after removing itself. */
type Wrapped = Listener & { listener?: Listener };

/** The emitter's methods (those of `node:events`' `EventEmitter` that packages use). */
export interface EventEmitter {
  /** Adds `listener` at the end of `event`'s listeners. */
  on(event: string | symbol, listener: Listener): this;
  /** Same as {@linkcode EventEmitter.on}. */
  addListener(event: string | symbol, listener: Listener): this;
  /** Adds `listener` at the start of `event`'s listeners. */
  prependListener(event: string | symbol, listener: Listener): this;
  /** Adds `listener` for the next `event` only. */
  once(event: string | symbol, listener: Listener): this;
  /** {@linkcode EventEmitter.once} at the start of the listeners. */
  prependOnceListener(event: string | symbol, listener: Listener): this;
  /** Removes the most recently added instance of `listener` for `event`. */
  off(event: string | symbol, listener: Listener): this;
  /** Same as {@linkcode EventEmitter.off}. */
  removeListener(event: string | symbol, listener: Listener): this;
  /** Removes every listener of `event`, or of every event. */
  removeAllListeners(event?: string | symbol): this;
  /** Calls `event`'s listeners with `args`; whether there were any. */
  emit(event: string | symbol, ...args: unknown[]): boolean;
  /** Copies of `event`'s listeners (`once` listeners as given). */
  listeners(event: string | symbol): Listener[];
  /** Copies of `event`'s listeners (`once` listeners as their wrappers). */
  rawListeners(event: string | symbol): Listener[];
  /** How many listeners `event` has (only those that are `listener`, when given). */
  listenerCount(event: string | symbol, listener?: Listener): number;
  /** The events that have listeners. */
  eventNames(): (string | symbol)[];
  /** Sets the listener count above which a warning is given (0 or Infinity: never). */
  setMaxListeners(n: number): this;
  /** The listener count above which a warning is given. */
  getMaxListeners(): number;
}

/** The `EventEmitter` function: `new EventEmitter()`, or `EventEmitter.call(this)` from a subclass constructor. */
export interface EventEmitterConstructor {
  new (): EventEmitter;
  (this: EventEmitter): void;
  readonly prototype: EventEmitter;
  /** The default of {@linkcode EventEmitter.getMaxListeners} (10). */
  defaultMaxListeners: number;
  /** Itself, as `require("events").EventEmitter`. */
  EventEmitter: EventEmitterConstructor;
  /** Sets up the emitter's state on `this` (what the constructor does). */
  init(this: EventEmitter): void;
}

/** The state kept on each emitter, under Node's property names. */
interface State {
  _events: Record<string | symbol, Wrapped[]>;
  _eventsCount: number;
  _maxListeners: number | undefined;
  _warned?: Set<string | symbol>;
}

function state(emitter: EventEmitter): State {
  const s = emitter as unknown as State;
  if (!s._events || s._events === (Object.getPrototypeOf(emitter) as State)._events) {
    s._events = Object.create(null);
    s._eventsCount = 0;
  }
  return s;
}

function checkListener(listener: unknown): asserts listener is Listener {
  if (typeof listener !== "function") {
    const error = new TypeError(
      `The "listener" argument must be of type function. Received ${
        listener === null || listener === undefined ? String(listener) : `type ${typeof listener}`
      }`,
    );
    throw Object.assign(error, { code: "ERR_INVALID_ARG_TYPE" });
  }
}

function add(emitter: EventEmitter, event: string | symbol, listener: Wrapped, prepend: boolean): EventEmitter {
  checkListener(listener);
  const s = state(emitter);
  if (s._events.newListener) emitter.emit("newListener", event, listener.listener ?? listener);
  let list = s._events[event];
  if (!list) {
    list = s._events[event] = [];
    s._eventsCount++;
  }
  if (prepend) list.unshift(listener);
  else list.push(listener);
  const max = emitter.getMaxListeners();
  if (max > 0 && list.length > max && !(s._warned ??= new Set()).has(event)) {
    s._warned.add(event);
    const name = typeof event === "symbol" ? event.toString() : event;
    const warning = Object.assign(
      new Error(
        `Possible EventEmitter memory leak detected. ${list.length} ${name} listeners added to ` +
          `[${emitter.constructor?.name ?? "EventEmitter"}]. MaxListeners is ${max}. ` +
          "Use emitter.setMaxListeners() to increase limit",
      ),
      { name: "MaxListenersExceededWarning", emitter, type: event, count: list.length },
    );
    (globalThis as unknown as { process: { emitWarning(w: Error): void } }).process.emitWarning(warning);
  }
  return emitter;
}

function onceWrapper(emitter: EventEmitter, event: string | symbol, listener: Listener): Wrapped {
  checkListener(listener);
  let fired = false;
  const wrapped: Wrapped = function (this: unknown, ...args: unknown[]) {
    if (fired) return;
    fired = true;
    emitter.removeListener(event, wrapped);
    return listener.apply(emitter, args);
  };
  wrapped.listener = listener;
  return wrapped;
}

function remove(emitter: EventEmitter, event: string | symbol, index: number): void {
  const s = state(emitter);
  const list = s._events[event];
  const [removed] = list.splice(index, 1);
  if (list.length === 0) {
    delete s._events[event];
    s._eventsCount--;
  }
  if (s._events.removeListener) emitter.emit("removeListener", event, removed.listener ?? removed);
}

const proto: EventEmitter & ThisType<EventEmitter> = {
  on(event, listener) {
    return add(this, event, listener, false) as typeof this;
  },
  addListener(event, listener) {
    return add(this, event, listener, false) as typeof this;
  },
  prependListener(event, listener) {
    return add(this, event, listener, true) as typeof this;
  },
  once(event, listener) {
    return add(this, event, onceWrapper(this, event, listener), false) as typeof this;
  },
  prependOnceListener(event, listener) {
    return add(this, event, onceWrapper(this, event, listener), true) as typeof this;
  },
  off(event, listener) {
    return this.removeListener(event, listener);
  },
  removeListener(event, listener) {
    checkListener(listener);
    const list = state(this)._events[event];
    if (!list) return this;
    for (let i = list.length - 1; i >= 0; i--) {
      if (list[i] === listener || list[i].listener === listener) {
        remove(this, event, i);
        break;
      }
    }
    return this;
  },
  removeAllListeners(event) {
    const s = state(this);
    if (!s._events.removeListener) {
      if (event === undefined) {
        s._events = Object.create(null);
        s._eventsCount = 0;
      } else if (s._events[event]) {
        delete s._events[event];
        s._eventsCount--;
      }
      return this;
    }
    if (event === undefined) {
      for (const name of Reflect.ownKeys(s._events)) if (name !== "removeListener") this.removeAllListeners(name);
      this.removeAllListeners("removeListener");
      return this;
    }
    const list = s._events[event];
    // Last added first, each removal reported.
    if (list) { for (let i = list.length - 1; i >= 0; i--) if (s._events[event]) remove(this, event, i); }
    return this;
  },
  emit(event, ...args) {
    const list = state(this)._events[event];
    if (!list) {
      if (event !== "error") return false;
      const error = args[0];
      if (error instanceof Error) throw error;
      const detail = typeof error === "string" ? `'${error}'` : String(error);
      throw Object.assign(new Error(`Unhandled error. (${detail})`), { code: "ERR_UNHANDLED_ERROR", context: error });
    }
    for (const listener of [...list]) listener.apply(this, args);
    return true;
  },
  listeners(event) {
    return (state(this)._events[event] ?? []).map((l) => l.listener ?? l);
  },
  rawListeners(event) {
    return [...(state(this)._events[event] ?? [])];
  },
  listenerCount(event, listener) {
    const list = state(this)._events[event] ?? [];
    return listener ? list.filter((l) => l === listener || l.listener === listener).length : list.length;
  },
  eventNames() {
    return Reflect.ownKeys(state(this)._events);
  },
  setMaxListeners(n) {
    if (typeof n !== "number" || n < 0 || Number.isNaN(n)) {
      throw new RangeError(`The value of "n" is out of range. It must be a non-negative number. Received ${n}`);
    }
    (this as unknown as State)._maxListeners = n;
    return this;
  },
  getMaxListeners() {
    return (this as unknown as State)._maxListeners ?? EventEmitter.defaultMaxListeners;
  },
};

/** The emitter (see the module documentation). */
export const EventEmitter: EventEmitterConstructor = function EventEmitter(this: EventEmitter): void {
  initEmitter(this);
} as unknown as EventEmitterConstructor;

function initEmitter(emitter: EventEmitter): void {
  const s = state(emitter);
  s._maxListeners ??= undefined;
}

for (const [name, method] of Object.entries(proto)) {
  Object.defineProperty(EventEmitter.prototype, name, { value: method, writable: true, configurable: true });
}
EventEmitter.defaultMaxListeners = 10;
EventEmitter.EventEmitter = EventEmitter;
EventEmitter.init = function init(this: EventEmitter): void {
  initEmitter(this);
};
