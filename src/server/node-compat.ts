/**
 * Node.js behaviour Ballast backports, applied once when a server is created.
 *
 * `AsyncResource.prototype.bind` on Node 20 (and 22 before the change below) gives every bound
 * function an `asyncResource` accessor whose getter and setter are made by `util.deprecate` on
 * each call (DEP0172). Fastify binds one function per request body it parses, so this costs
 * every POST about 15 µs of CPU (measured: 16.8 µs per bind with the accessor, 1.4 µs without)
 * and puts the bound function in dictionary mode. Node made DEP0172 End-of-Life
 * (nodejs/node#58618): newer releases bind without the property. Where the running Node still
 * adds it, this makes `bind` behave as those releases do; nothing in Ballast or its
 * dependencies reads the deprecated property.
 */
import { AsyncResource } from "node:async_hooks";

let applied = false;

/** Whether this Node still attaches the deprecated `asyncResource` property to bound functions. */
export function bindAddsAsyncResource(): boolean {
  const probe = new AsyncResource("ballast:probe").bind(() => undefined);
  return Object.getOwnPropertyDescriptor(probe, "asyncResource") !== undefined;
}

/** Bind as Node does since DEP0172's end of life; a no-op where it already does. */
export function applyNodeCompat(): void {
  if (applied) return;
  applied = true;
  if (!bindAddsAsyncResource()) return;
  AsyncResource.prototype.bind = bindWithoutAccessor as AsyncResource["bind"];
}

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

/** Node's `bind` since DEP0172's end of life: the same wrapper, without the accessor. */
function bindWithoutAccessor(this: AsyncResource, fn: AnyFunction, thisArg?: unknown): AnyFunction {
  if (typeof fn !== "function") {
    throw new TypeError(`The "fn" argument must be of type function. Received ${typeof fn}`);
  }
  const resource = this;
  const bound: AnyFunction =
    thisArg === undefined
      ? function (this: unknown, ...args: unknown[]) {
          return resource.runInAsyncScope(fn, this, ...args);
        }
      : (...args: unknown[]) => resource.runInAsyncScope(fn, thisArg, ...args);
  Object.defineProperty(bound, "length", {
    configurable: true,
    enumerable: false,
    writable: false,
    value: fn.length,
  });
  return bound;
}
