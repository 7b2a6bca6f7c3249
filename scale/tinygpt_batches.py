"""tinygpt's batch order, reproduced in Python.

tinygpt draws every training and evaluation window from its own seeded
generator (Sources/Kernels/Random.swift): xoshiro256** seeded through
SplitMix64, and integers below a bound by Lemire's multiply-and-reject method
(Swift's `RandomNumberGenerator.next(upperBound:)`, which
`RandomGenerator.int(below:)` calls). `BatchSampler` (Sources/Train/Batches.swift)
draws one window start per sequence, `start = int(below: len(tokens) - length)`,
and takes tokens[start : start + length] as inputs and the same shifted by one
as targets. Same seed, same token ids → the same windows, in the same order.

The functions here are pure Python (no numpy needed) so that they can be
checked against tinygpt line by line; they cost microseconds per batch.
"""

MASK64 = (1 << 64) - 1


def split_mix(x):
    """One SplitMix64 step: (new state, output)."""
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return x, z ^ (z >> 31)


def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK64


class RandomGenerator:
    """xoshiro256**, as tinygpt's `RandomGenerator`. Its state is four 64-bit words."""

    def __init__(self, seed=None, state=None):
        if state is not None:
            if len(state) != 4:
                raise ValueError(f"a generator state needs 4 words, got {len(state)}")
            self.state = [int(w) & MASK64 for w in state]
            return
        s = int(seed) & MASK64
        words = []
        for _ in range(4):
            s, out = split_mix(s)
            words.append(out)
        self.state = words

    def next(self):
        s0, s1, s2, s3 = self.state
        result = (_rotl((s1 * 5) & MASK64, 7) * 9) & MASK64
        t = (s1 << 17) & MASK64
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = _rotl(s3, 45)
        self.state = [s0, s1, s2, s3]
        return result

    def int_below(self, bound):
        """Uniform in [0, bound): Lemire's method exactly as Swift's next(upperBound:)."""
        if bound <= 0:
            raise ValueError(f"int_below needs a positive bound, got {bound}")
        product = self.next() * bound
        low = product & MASK64
        if low < bound:
            threshold = ((1 << 64) - bound) % bound  # (0 &- bound) % bound
            while low < threshold:
                product = self.next() * bound
                low = product & MASK64
        return product >> 64

    def state_hex(self):
        """The state as tinygpt's trainer_state.json writes it (hex words)."""
        return [format(w, "x") for w in self.state]


def seed_word(seed):
    """tinygpt's `UInt64(bitPattern: Int64(seed))`: a (possibly negative) config seed as 64 bits."""
    return int(seed) & MASK64


# Evaluation draws its windows from a fresh generator per split, seeded with
# these constants xor the run's seed (Trainer.evaluate/meanLoss), so every
# evaluation of a run scores the same windows.
TRAIN_EVAL_SEED = 0xE7A10001
VALIDATION_EVAL_SEED = 0xE7A10002


def window_starts(generator, n_tokens, batch, length):
    """The starts of the next `batch` windows of `length` + 1 tokens out of `n_tokens`."""
    if n_tokens < length + 1:
        raise ValueError(f"{n_tokens} tokens hold no window of {length} + 1")
    return [generator.int_below(n_tokens - length) for _ in range(batch)]


def training_batches(seed, n_tokens, batch, length, accumulation, steps, state=None):
    """For each optimizer step, the window starts of all its micro-batches
    (accumulation × batch of them, in tinygpt's order)."""
    generator = RandomGenerator(seed=seed_word(seed)) if state is None else RandomGenerator(state=state)
    return [window_starts(generator, n_tokens, batch * accumulation, length) for _ in range(steps)]


def evaluation_batches(seed, split_seed, n_tokens, batch, length, eval_steps):
    """The window starts of each of the `eval_steps` batches an evaluation scores."""
    generator = RandomGenerator(seed=split_seed ^ seed_word(seed))
    return [window_starts(generator, n_tokens, batch, length) for _ in range(eval_steps)]
