/**
 * L-BFGS with the orthant-wise extension (OWL-QN, Andrew & Gao 2007) for objectives
 * f(x) + sum_i l1[i] * |x_i| with smooth f. Without L1 it is plain L-BFGS with an Armijo
 * backtracking line search. Full-batch and deterministic, which suits the linear learners:
 * standardized designs are well conditioned and converge in tens to hundreds of iterations.
 */

/** Smooth part: returns f(x) and writes its gradient into grad. */
export type SmoothObjective = (x: Float64Array, grad: Float64Array) => number;

export interface MinimizeOptions {
  readonly maxIterations?: number;
  /** Stop when the largest (pseudo-)gradient component is below this. */
  readonly tolerance?: number;
  /** Per-coordinate L1 weights (0 = not penalized); omit for smooth problems. */
  readonly l1?: Float64Array;
  /** Correction pairs kept. */
  readonly memory?: number;
  /** Called between iterations (e.g. to honour an AbortSignal). */
  readonly onIteration?: (iteration: number) => void;
}

export interface MinimizeResult {
  readonly x: Float64Array;
  /** Objective including the L1 term. */
  readonly value: number;
  readonly iterations: number;
  readonly converged: boolean;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}

function l1Term(x: Float64Array, l1: Float64Array | undefined): number {
  if (!l1) return 0;
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (l1[i] as number) * Math.abs(x[i] as number);
  return s;
}

/** Steepest-descent direction of the L1-regularized objective (the pseudo-gradient). */
function pseudoGradient(
  x: Float64Array,
  g: Float64Array,
  l1: Float64Array | undefined,
  out: Float64Array,
): void {
  if (!l1) {
    out.set(g);
    return;
  }
  for (let i = 0; i < x.length; i++) {
    const c = l1[i] as number;
    const gi = g[i] as number;
    const xi = x[i] as number;
    if (c === 0) out[i] = gi;
    else if (xi > 0) out[i] = gi + c;
    else if (xi < 0) out[i] = gi - c;
    else if (gi + c < 0) out[i] = gi + c;
    else if (gi - c > 0) out[i] = gi - c;
    else out[i] = 0;
  }
}

/** Minimize f(x) + L1 from x0 (not modified). */
export function minimize(
  f: SmoothObjective,
  x0: Float64Array,
  options: MinimizeOptions = {},
): MinimizeResult {
  const maxIterations = options.maxIterations ?? 500;
  const tolerance = options.tolerance ?? 1e-7;
  const memory = options.memory ?? 10;
  const l1 = options.l1;
  const dim = x0.length;
  let x = x0.slice();
  let g = new Float64Array(dim);
  let value = f(x, g) + l1Term(x, l1);
  const pg = new Float64Array(dim);
  const d = new Float64Array(dim);
  const alpha = new Float64Array(memory);
  const sList: Float64Array[] = [];
  const yList: Float64Array[] = [];
  const rhoList: number[] = [];
  let xNew = new Float64Array(dim);
  let gNew = new Float64Array(dim);
  let iterations = 0;
  let converged = false;
  let smallSteps = 0;
  for (; iterations < maxIterations; iterations++) {
    options.onIteration?.(iterations);
    pseudoGradient(x, g, l1, pg);
    let maxPg = 0;
    for (let i = 0; i < dim; i++) maxPg = Math.max(maxPg, Math.abs(pg[i] as number));
    if (maxPg <= tolerance) {
      converged = true;
      break;
    }
    // Two-loop recursion: d = -H pg.
    for (let i = 0; i < dim; i++) d[i] = -(pg[i] as number);
    const m = sList.length;
    for (let j = m - 1; j >= 0; j--) {
      const a = (rhoList[j] as number) * dot(sList[j] as Float64Array, d);
      alpha[j] = a;
      const yj = yList[j] as Float64Array;
      for (let i = 0; i < dim; i++) d[i] = (d[i] as number) - a * (yj[i] as number);
    }
    if (m > 0) {
      const yLast = yList[m - 1] as Float64Array;
      const gamma = dot(sList[m - 1] as Float64Array, yLast) / dot(yLast, yLast);
      for (let i = 0; i < dim; i++) d[i] = (d[i] as number) * gamma;
    }
    for (let j = 0; j < m; j++) {
      const b = (rhoList[j] as number) * dot(yList[j] as Float64Array, d);
      const sj = sList[j] as Float64Array;
      const a = alpha[j] as number;
      for (let i = 0; i < dim; i++) d[i] = (d[i] as number) + (a - b) * (sj[i] as number);
    }
    if (l1) {
      // Keep only components that descend in the current orthant.
      for (let i = 0; i < dim; i++) if ((d[i] as number) * (pg[i] as number) >= 0) d[i] = 0;
    }
    let slope = dot(pg, d);
    if (!(slope < 0)) {
      sList.length = 0;
      yList.length = 0;
      rhoList.length = 0;
      for (let i = 0; i < dim; i++) d[i] = -(pg[i] as number);
      slope = dot(pg, d);
    }
    let step = sList.length === 0 ? Math.min(1, 1 / Math.sqrt(dot(pg, pg))) : 1;
    let accepted = false;
    let fNew = 0;
    let valueNew = 0;
    for (let attempt = 0; attempt < 50; attempt++) {
      for (let i = 0; i < dim; i++) {
        const xi = x[i] as number;
        let v = xi + step * (d[i] as number);
        if (l1 && (l1[i] as number) > 0) {
          const orthant = xi !== 0 ? Math.sign(xi) : -Math.sign(pg[i] as number);
          if (Math.sign(v) !== orthant) v = 0;
        }
        xNew[i] = v;
      }
      fNew = f(xNew, gNew);
      valueNew = fNew + l1Term(xNew, l1);
      let decrease = 0;
      for (let i = 0; i < dim; i++)
        decrease += (pg[i] as number) * ((xNew[i] as number) - (x[i] as number));
      if (Number.isFinite(valueNew) && valueNew <= value + 1e-4 * decrease) {
        accepted = true;
        break;
      }
      step *= 0.5;
    }
    if (!accepted) {
      // No progress possible along any direction we can find: at numerical optimum.
      converged = true;
      break;
    }
    const s = new Float64Array(dim);
    const y = new Float64Array(dim);
    for (let i = 0; i < dim; i++) {
      s[i] = (xNew[i] as number) - (x[i] as number);
      y[i] = (gNew[i] as number) - (g[i] as number);
    }
    const sy = dot(s, y);
    if (sy > 1e-12 * Math.max(1, dot(y, y))) {
      if (sList.length === memory) {
        sList.shift();
        yList.shift();
        rhoList.shift();
      }
      sList.push(s);
      yList.push(y);
      rhoList.push(1 / sy);
    }
    const relative = (value - valueNew) / Math.max(Math.abs(value), Math.abs(valueNew), 1);
    [x, xNew] = [xNew, x];
    [g, gNew] = [gNew, g];
    value = valueNew;
    smallSteps = relative < 1e-12 ? smallSteps + 1 : 0;
    if (smallSteps >= 3) {
      converged = true;
      iterations++;
      break;
    }
  }
  return { x, value, iterations, converged };
}
