import type t from 'tap';

/** The type of the `t` a subtest callback receives, for helpers that take it. */
export type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];
