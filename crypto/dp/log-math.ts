/** Log-space arithmetic and log(erfc) for the RDP accountant (internal; float64). */

/**
 * log(exp(a) + exp(b)) without overflow; -Infinity stands for log(0).
 * @example logAdd(Math.log(2), Math.log(3)) // Math.log(5)
 */
export function logAdd(a: number, b: number): number {
  const lo = Math.min(a, b);
  const hi = Math.max(a, b);
  if (lo === -Infinity) return hi;
  return Math.log1p(Math.exp(lo - hi)) + hi;
}

/**
 * log(exp(a) - exp(b)) for a >= b; throws a RangeError when the result would be negative (as TF Privacy's _log_sub).
 * @example logSub(Math.log(5), Math.log(3)) // Math.log(2)
 */
export function logSub(a: number, b: number): number {
  if (a < b) throw new RangeError('log-space subtraction would be negative');
  if (b === -Infinity) return a;
  if (a === b) return -Infinity;
  const diff = a - b;
  if (diff > 700) return a; // expm1 overflows; exp(b) is negligible next to exp(a)
  return Math.log(Math.expm1(diff)) + b;
}

const LOG_FACTORIALS: number[] = [0];

/** log(k!) for integer k >= 0, from a growing table. */
function logFactorial(k: number): number {
  for (let i = LOG_FACTORIALS.length; i <= k; i++) LOG_FACTORIALS.push((LOG_FACTORIALS[i - 1] as number) + Math.log(i));
  return LOG_FACTORIALS[k] as number;
}

/**
 * log of the binomial coefficient C(n, k) for integers 0 <= k <= n.
 * @example Math.exp(logComb(5, 2)) // 10
 */
export function logComb(n: number, k: number): number {
  if (!Number.isInteger(n) || !Number.isInteger(k) || k < 0 || k > n)
    throw new RangeError(`logComb needs integers 0 <= k <= n, got n=${n}, k=${k}`);
  return logFactorial(n) - logFactorial(k) - logFactorial(n - k);
}

const LOG_SQRT_PI = 0.5 * Math.log(Math.PI);

/** erfc(x) for 0 <= x < 2 as 1 - erf(x), erf by its all-positive series 2x/sqrt(pi) e^{-x^2} sum (2x^2)^n / (2n+1)!!. */
function erfcSmall(x: number): number {
  const twoXSquared = 2 * x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= twoXSquared / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return 1 - (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum;
}

/** log(sqrt(pi) e^{x^2} erfc(x)) for x >= 2, by the continued fraction 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))) (modified Lentz). */
function logScaledErfcLarge(x: number): number {
  const tiny = 1e-300;
  let f = tiny;
  let c = f;
  let d = 0;
  for (let k = 1; k < 5000; k++) {
    const a = k === 1 ? 1 : (k - 1) / 2;
    d = x + a * d;
    d = Math.abs(d) < tiny ? tiny : d;
    c = x + a / c;
    c = Math.abs(c) < tiny ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  // The recurrence above evaluates b0 + a1/(b1 + a2/(b2 + ...)) with b0 = 0 replaced by tiny and every b_k = x.
  return Math.log(f);
}

/**
 * log(erfc(x)), accurate (relative ~1e-14) from large negative x to x in the thousands, where erfc itself underflows.
 * @example logErfc(10) // -102.879... (erfc(10) = 2.088e-45)
 */
export function logErfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === Infinity) return -Infinity;
  if (x < 0) return Math.log(2 - Math.exp(logErfc(-x)));
  if (x < 2) return Math.log(erfcSmall(x));
  return -x * x - LOG_SQRT_PI + logScaledErfcLarge(x);
}
