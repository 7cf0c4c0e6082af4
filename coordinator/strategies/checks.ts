/** Argument checks shared by the strategies: tensor counts and sizes, update weights. */

/** Number of values in a tensor of this shape. */
export const sizeOf = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/** Throws RangeError unless `tensors` are Float32Arrays of exactly `sizes`. `what` names them in the message. */
export function checkTensors(tensors: Float32Array[], sizes: number[], what: string): void {
  if (tensors.length !== sizes.length) {
    throw new RangeError(`${what} has ${tensors.length} tensors, the model has ${sizes.length}`);
  }
  sizes.forEach((size, i) => {
    const tensor = tensors[i];
    if (!(tensor instanceof Float32Array)) throw new RangeError(`${what}: tensor ${i} is not a Float32Array`);
    if (tensor.length !== size) {
      throw new RangeError(`${what}: tensor ${i} has ${tensor.length} values, the model needs ${size}`);
    }
  });
}

/** Throws RangeError unless `weight` is a positive finite number. */
export function checkWeight(weight: number): void {
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0) {
    throw new RangeError(`update weight must be a positive finite number, got ${String(weight)}`);
  }
}

/** Throws when an accumulator is used after its result was taken. */
export function checkOpen(closed: boolean): void {
  if (closed) throw new Error('this round was already aggregated: begin a new one');
}
