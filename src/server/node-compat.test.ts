import { AsyncLocalStorage, AsyncResource } from "node:async_hooks";
import { describe, expect, it } from "vitest";
import { applyNodeCompat, bindAddsAsyncResource } from "./node-compat.ts";

describe("applyNodeCompat", () => {
  it("binds without the deprecated asyncResource property, keeping context, this and length", () => {
    applyNodeCompat();
    expect(bindAddsAsyncResource()).toBe(false);
    const store = new AsyncLocalStorage<string>();
    const bound = store.run("request-1", () =>
      new AsyncResource("test").bind(function (this: unknown, a: number, b: number) {
        return { store: store.getStore(), self: this, sum: a + b };
      }),
    );
    // Called later, outside the run: the resource's context comes back.
    expect(bound.call("me", 1, 2)).toEqual({ store: "request-1", self: "me", sum: 3 });
    expect(bound.length).toBe(2);
    // The thisArg form (not in @types/node's signature, part of Node's API).
    const withThis: (this: unknown) => unknown = Reflect.apply(
      AsyncResource.prototype.bind,
      new AsyncResource("test"),
      [
        function (this: unknown) {
          return this;
        },
        "fixed",
      ],
    );
    expect(withThis.call("other")).toBe("fixed");
    expect(() => new AsyncResource("test").bind(42 as never)).toThrow(TypeError);
    // The static form goes through the same prototype method.
    expect(
      Object.getOwnPropertyDescriptor(
        AsyncResource.bind(() => 1),
        "asyncResource",
      ),
    ).toBe(undefined);
  });
});
