// Preloaded into a CLI child (NODE_OPTIONS=--import) to run it with a skewed clock: Date and Date.now are
// DV_TEST_CLOCK_SKEW_MS ahead (negative: behind). Timers are untouched. Tests of what must follow the
// server's clock, not the client's, use it.
const skew = Number(process.env.DV_TEST_CLOCK_SKEW_MS ?? 0)
const RealDate = globalThis.Date
class SkewedDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(RealDate.now() + skew)
    else super(...args)
  }

  static now() {
    return RealDate.now() + skew
  }
}
globalThis.Date = SkewedDate
