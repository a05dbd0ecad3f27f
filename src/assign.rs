//! The assignment: which workers of a PARTITIONED task label which inputs, and which inputs
//! MANUAL review samples. Pure: no I/O, no SQLite, no model types (plain ids and weights in,
//! counts and exceptions out), so it is tested and benchmarked alone. The algorithm, its tie
//! breaks and its measured stability are in ARCHITECTURE.md, "The assignment".

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

/// Who gets work on one task, as the assignment needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// Seeds every hash, so two tasks over the same inputs split them independently.
    pub task_id: String,
    /// Worker ids with their weights (EVENLY: all 1.0), in the task's order. A weight that is
    /// not a positive finite number gives that worker nothing.
    pub workers: Vec<(String, f64)>,
    /// How many distinct workers each input gets (PARTITIONED's workers_per_input; >= 1).
    /// More than there are workers gives every worker every input; 0 assigns nothing.
    pub per_input: usize,
}

/// One exception to the hash's preference, made to keep every worker's count exact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    pub input: String,
    /// Indexes into [`Spec::workers`].
    pub from: usize,
    pub to: usize,
}

/// How a PARTITIONED task's inputs are shared out: each worker's quota and the moves that
/// make the hash's preference meet them (the result of one full pass over the inputs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// Each worker's exact number of inputs (same order as [`Spec::workers`]). They sum to
    /// `N * per_input`, or to `N` times the number of workers with a positive weight when
    /// `per_input` is larger than that.
    pub quotas: Vec<u64>,
    /// Sorted by input id, then `from`; an input has at most one move per worker it lost.
    pub moves: Vec<Move>,
}

/// MANUAL review's sample: the `round(N * fraction)` inputs with the smallest review hash
/// (ties by input id), kept as the largest chosen (hash, id), so adding inputs only displaces
/// inputs at the threshold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// The largest sampled (review hash, input id); `None` when nothing is sampled.
    pub threshold: Option<(u64, String)>,
}

/// Each worker's quota, then the hash's preference repaired to meet them exactly. O(N * workers)
/// time, O(N * per_input) memory. `inputs`: distinct ids, any order; the result never depends on
/// the order.
pub fn partition(spec: &Spec, inputs: &[&str]) -> Partition {
    if inputs.is_empty() {
        // Nothing to share: skip preparing (and with p > 1, calibrating) the workers.
        return Partition {
            quotas: vec![0; spec.workers.len()],
            moves: Vec::new(),
        };
    }
    // One thread per core, none with under 65,536 inputs.
    let cores = crate::cores::cores();
    partition_on(spec, inputs, cores.min(inputs.len().div_ceil(1 << 16)))
}

fn partition_on(spec: &Spec, inputs: &[&str], threads: usize) -> Partition {
    let workers = Workers::new(spec);
    let n = inputs.len();
    let quotas = workers.quotas(n as u64);
    let p = workers.per_input;
    if p == 0 || n == 0 {
        return Partition {
            quotas,
            moves: Vec::new(),
        };
    }
    // Each input's preference on its own, on every core; the parts are joined in input order.
    let parts = crate::cores::in_parallel(n, threads, |range| {
        let mut hashes = Vec::with_capacity(range.len());
        let mut chosen = vec![0u32; range.len() * p];
        let mut counts = vec![0u64; workers.len()];
        let mut scores = vec![0.0; workers.len()];
        for (id, set) in inputs[range].iter().zip(chosen.chunks_exact_mut(p)) {
            let h = input_hash(id);
            hashes.push(h);
            workers.prefer(h, &mut scores, set);
            for &w in set.iter() {
                counts[w as usize] += 1;
            }
        }
        (hashes, chosen, counts)
    });
    let mut hashes = Vec::with_capacity(n);
    let mut chosen = Vec::with_capacity(n * p);
    let mut counts = vec![0u64; workers.len()];
    for (h, c, k) in parts {
        hashes.extend(h);
        chosen.extend(c);
        for (total, k) in counts.iter_mut().zip(k) {
            *total += k;
        }
    }
    let scores = vec![0.0; workers.len()];
    let mut repair = Repair {
        workers: &workers,
        inputs,
        hashes: &hashes,
        chosen,
        counts,
        quotas: &quotas,
        touched: Vec::new(),
        scores,
        threads,
    };
    repair.run();
    let moves = repair.moves();
    Partition { quotas, moves }
}

/// The workers (indexes, ascending) of one input under a plan: the hash's preference with this
/// input's moves applied. O(workers) once the workers are prepared, which this does on every
/// call (with per_input > 1 and unequal weights that is the calibration, 1.4 ms for five workers):
/// for many inputs use one [`Assigner`]. `moves`: this input's moves (others are ignored).
pub fn workers_of(spec: &Spec, input: &str, moves: &[Move]) -> Vec<usize> {
    Assigner::new(spec).workers_of(input, moves)
}

/// [`workers_of`] for many inputs of one task: the per-worker hashing is done once.
pub struct Assigner {
    workers: Workers,
}

impl Assigner {
    pub fn new(spec: &Spec) -> Self {
        Assigner {
            workers: Workers::new(spec),
        }
    }

    /// As [`workers_of`].
    pub fn workers_of(&self, input: &str, moves: &[Move]) -> Vec<usize> {
        let w = &self.workers;
        let mut set = vec![0u32; w.per_input];
        let mut scores = vec![0.0; w.len()];
        w.prefer(input_hash(input), &mut scores, &mut set);
        let mut set: Vec<usize> = set.into_iter().map(|w| w as usize).collect();
        for m in moves.iter().filter(|m| m.input == input) {
            if let Some(slot) = set.iter().position(|&w| w == m.from)
                && m.to < w.len()
                && !set.contains(&m.to)
            {
                set[slot] = m.to;
            }
        }
        set.sort_unstable();
        set
    }
}

/// MANUAL review's sample of `inputs`: exactly `round(N * fraction)` of them (`fraction` is
/// clamped to 0..=1), the ones with the smallest review hash.
pub fn sample(task_id: &str, inputs: &[&str], fraction: f64) -> Sample {
    let fraction = if fraction.is_nan() {
        0.0
    } else {
        fraction.clamp(0.0, 1.0)
    };
    let k = ((inputs.len() as f64) * fraction).round() as usize;
    if k == 0 {
        return Sample { threshold: None };
    }
    let key = review_key(task_id);
    let mut keyed: Vec<(u64, &str)> = inputs
        .iter()
        .map(|id| (review_hash(key, id), *id))
        .collect();
    let (_, &mut (hash, id), _) = keyed.select_nth_unstable(k.min(inputs.len()) - 1);
    Sample {
        threshold: Some((hash, id.to_owned())),
    }
}

/// Whether `input` is in the sample.
pub fn sampled(task_id: &str, input: &str, sample: &Sample) -> bool {
    match &sample.threshold {
        None => false,
        Some((hash, id)) => {
            (review_hash(review_key(task_id), input), input) <= (*hash, id.as_str())
        }
    }
}

// ---- hashing: FNV-1a over the bytes, then SplitMix64's finaliser. Defined here, not taken from
// std (whose hasher may change between Rust versions), so a plan is the same everywhere.

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
/// Separates the parts of a hashed key; ids are UTF-8, which never holds 0xff.
const SEP: u8 = 0xff;
const TAG_LABEL: u8 = 1;
const TAG_QUOTA: u8 = 2;
const TAG_REVIEW: u8 = 3;
const TAG_HANDOUT: u8 = 4;

fn fnv1a(mut state: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        state ^= u64::from(b);
        state = state.wrapping_mul(FNV_PRIME);
    }
    state
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn input_hash(id: &str) -> u64 {
    mix(fnv1a(FNV_OFFSET, id.as_bytes()))
}

/// A key for one (purpose, task, worker); an input's hash for it is `mix(input_hash + key)`,
/// SplitMix64's own way of deriving independent values from one seed.
fn key(tag: u8, task_id: &str, worker: &str) -> u64 {
    let mut h = fnv1a(FNV_OFFSET, &[tag]);
    h = fnv1a(h, task_id.as_bytes());
    h = fnv1a(h, &[SEP]);
    mix(fnv1a(h, worker.as_bytes()))
}

/// Where `worker` stands in `input`'s rendezvous order of a DYNAMIC task's `workers` (0: the
/// input prefers them before anyone): each person takes first the inputs that rank them first,
/// so people handed inputs in separate clones do not collide until each has taken their share.
pub fn handout_rank(task_id: &str, input: &str, workers: &[String], worker: &str) -> usize {
    let base = input_hash(input);
    let score = |w: &str| mix(base.wrapping_add(key(TAG_HANDOUT, task_id, w)));
    let mine = (score(worker), worker);
    workers
        .iter()
        .filter(|w| w.as_str() != worker && (score(w), w.as_str()) > mine)
        .count()
}

fn review_key(task_id: &str) -> u64 {
    key(TAG_REVIEW, task_id, "")
}

fn review_hash(key: u64, input: &str) -> u64 {
    mix(input_hash(input).wrapping_add(key))
}

/// `-ln(u)` for `u` uniform in (0, 1) taken from a hash's top 53 bits: an Exp(1) variable.
fn exponential(h: u64) -> f64 {
    let u = ((h >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64);
    -ln(u)
}

/// Natural logarithm of a positive normal number from `+ - * /` alone (which IEEE 754 rounds
/// the same everywhere, and Rust never fuses), so scores do not depend on the platform's libm.
/// Accurate to 1e-14.
fn ln(x: f64) -> f64 {
    let bits = x.to_bits();
    let mut exponent = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mut m = f64::from_bits((bits & ((1u64 << 52) - 1)) | (1023u64 << 52));
    if m > std::f64::consts::SQRT_2 {
        m *= 0.5;
        exponent += 1;
    }
    // ln(m) = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...), |s| <= 0.1716, so 8 terms reach 1e-14.
    let s = (m - 1.0) / (m + 1.0);
    let z = s * s;
    let mut series = 0.0;
    for k in (0..8).rev() {
        series = series * z + 1.0 / f64::from(2 * k + 1);
    }
    exponent as f64 * std::f64::consts::LN_2 + 2.0 * s * series
}

/// `e^x` for `x <= 0`, from `+ - * /` alone as [`ln`]; accurate to 1e-13 (relative).
fn exp(x: f64) -> f64 {
    if x < -700.0 {
        return 0.0;
    }
    let k = (x * std::f64::consts::LOG2_E).round();
    let r = x - k * std::f64::consts::LN_2;
    // |r| <= 0.35: 14 terms of the Taylor series reach 1e-17.
    let mut series = 1.0;
    for j in (1..=14).rev() {
        series = 1.0 + series * r / f64::from(j);
    }
    series * f64::from_bits(((k as i64 + 1023) as u64) << 52)
}

// ---- the workers of one task, prepared for scoring.

struct Workers {
    /// Per worker: its labeling key and 1/rate, the rate being its weight (calibrated when
    /// per_input > 1), zero for a capped worker; `None`: the worker gets nothing.
    label: Vec<(u64, Option<f64>)>,
    /// The quota tie break's hash per worker.
    quota_tie: Vec<u64>,
    /// Positive weights; 0 for a worker that gets nothing.
    weights: Vec<f64>,
    /// Workers whose share is every input.
    capped: Vec<bool>,
    /// Each worker's position in id order: the tie break between equal scores, so the result
    /// does not depend on the workers' order in the task.
    rank: Vec<u32>,
    /// `per_input`, at most the number of workers with a positive weight.
    per_input: usize,
}

impl Workers {
    fn new(spec: &Spec) -> Self {
        let weights: Vec<f64> = spec
            .workers
            .iter()
            .map(|&(_, w)| if w.is_finite() && w > 0.0 { w } else { 0.0 })
            .collect();
        let mut order: Vec<usize> = (0..spec.workers.len()).collect();
        order.sort_by(|&a, &b| spec.workers[a].0.cmp(&spec.workers[b].0).then(a.cmp(&b)));
        let mut rank = vec![0u32; spec.workers.len()];
        for (r, &w) in order.iter().enumerate() {
            rank[w] = r as u32;
        }
        let active = weights.iter().filter(|&&w| w > 0.0).count();
        let per_input = spec.per_input.min(active);
        let capped = cap(&weights, per_input);
        let rates = rates(&weights, &capped, per_input, &order);
        let label = spec
            .workers
            .iter()
            .zip(&rates)
            .map(|((id, _), &rate)| {
                let inv = match rate {
                    Rate::Never => None,
                    Rate::Always => Some(0.0),
                    Rate::Of(r) => Some(1.0 / r),
                };
                (key(TAG_LABEL, &spec.task_id, id), inv)
            })
            .collect();
        let quota_tie = spec
            .workers
            .iter()
            .map(|(id, _)| key(TAG_QUOTA, &spec.task_id, id))
            .collect();
        Workers {
            label,
            quota_tie,
            weights,
            capped,
            rank,
            per_input,
        }
    }

    fn len(&self) -> usize {
        self.label.len()
    }

    /// Every worker's score for one input (smaller is better; infinite: never).
    fn score_all(&self, input_hash: u64, scores: &mut [f64]) {
        for (s, &(key, inv)) in scores.iter_mut().zip(&self.label) {
            *s = match inv {
                Some(inv) => exponential(mix(input_hash.wrapping_add(key))) * inv,
                None => f64::INFINITY,
            };
        }
    }

    /// Whether worker `a` scores better than `b` on one input.
    fn better(&self, scores: &[f64], a: usize, b: usize) -> bool {
        scores[a]
            .total_cmp(&scores[b])
            .then(self.rank[a].cmp(&self.rank[b]))
            == Ordering::Less
    }

    /// The input's preferred workers, its `per_input` best scores, into `set` (best first).
    fn prefer(&self, input_hash: u64, scores: &mut [f64], set: &mut [u32]) {
        self.score_all(input_hash, scores);
        let p = set.len();
        let mut filled = 0;
        for w in 0..self.len() {
            if self.label[w].1.is_none() {
                continue;
            }
            if filled == p && !self.better(scores, w, set[p - 1] as usize) {
                continue;
            }
            let mut at = filled.min(p - 1);
            while at > 0 && self.better(scores, w, set[at - 1] as usize) {
                set[at] = set[at - 1];
                at -= 1;
            }
            set[at] = w as u32;
            filled = (filled + 1).min(p);
        }
    }

    /// Each worker's exact count: the floor or the ceiling of its share `N * p * w / sum(w)`,
    /// the largest remainders rounded up. A share of `N` or more (one worker can label an input
    /// only once) is capped at `N` and the rest shared among the others by weight (see [`cap`]).
    fn quotas(&self, n: u64) -> Vec<u64> {
        let mut quotas = vec![0u64; self.len()];
        let p = self.per_input as u64;
        if p == 0 || n == 0 {
            return quotas;
        }
        let open: Vec<usize> = (0..self.len())
            .filter(|&w| self.weights[w] > 0.0 && !self.capped[w])
            .collect();
        let full = self.capped.iter().filter(|&&c| c).count() as u64;
        for (w, &c) in self.capped.iter().enumerate() {
            if c {
                quotas[w] = n;
            }
        }
        if open.is_empty() {
            return quotas;
        }
        let rest = n * (p - full);
        let total = sum_sorted(open.iter().map(|&w| self.weights[w]));
        let shares: Vec<f64> = open
            .iter()
            .map(|&w| rest as f64 * self.weights[w] / total)
            .collect();
        for (&w, &share) in open.iter().zip(&shares) {
            quotas[w] = (share.floor() as u64).min(n);
        }
        // Largest remainder first; equal remainders by a hash of (task, worker), not by the
        // worker's position.
        let mut order: Vec<usize> = (0..open.len()).collect();
        let rem = |i: usize| shares[i] - shares[i].floor();
        order.sort_by(|&a, &b| {
            rem(b)
                .total_cmp(&rem(a))
                .then(self.quota_tie[open[a]].cmp(&self.quota_tie[open[b]]))
                .then(open[a].cmp(&open[b]))
        });
        let given: u64 = open.iter().map(|&w| quotas[w]).sum();
        // Floating point can leave the floors a unit off `rest`; settle it in remainder order.
        let mut diff = rest as i128 - given as i128;
        let mut k = 0;
        while diff > 0 && k < 2 * order.len() {
            let w = open[order[k % order.len()]];
            if quotas[w] < n {
                quotas[w] += 1;
                diff -= 1;
            }
            k += 1;
        }
        let mut k = order.len();
        while diff < 0 && k > 0 {
            k -= 1;
            let w = open[order[k]];
            if quotas[w] > 0 {
                quotas[w] -= 1;
                diff += 1;
            }
        }
        quotas
    }
}

/// The workers whose share `p * w / sum(w)` of the inputs reaches all of them: capped at every
/// input, the others sharing the remaining `p - capped` per input by weight, repeated until no
/// share reaches 1. Independent of N.
fn cap(weights: &[f64], p: usize) -> Vec<bool> {
    let mut capped = vec![false; weights.len()];
    loop {
        let open: Vec<usize> = (0..weights.len())
            .filter(|&w| weights[w] > 0.0 && !capped[w])
            .collect();
        let rest = (p - capped.iter().filter(|&&c| c).count()) as f64;
        let total = sum_sorted(open.iter().map(|&w| weights[w]));
        let full: Vec<usize> = open
            .into_iter()
            .filter(|&w| rest * weights[w] / total >= 1.0)
            .collect();
        if full.is_empty() {
            return capped;
        }
        for w in full {
            capped[w] = true;
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Rate {
    Never,
    Always,
    Of(f64),
}

/// Each worker's rate in the exponential race that picks an input's preferred workers. With
/// one worker to pick, the weight itself: the race's winner is worker i with probability
/// `w_i / sum(w)`, exactly the share. With more, the first `p` finishers favour light workers
/// (the heavy ones cannot win twice), so the rates are calibrated until each open worker's
/// chance to be among them is its share, and the repair only corrects chance. Capped workers
/// are in every input.
fn rates(weights: &[f64], capped: &[bool], p: usize, order: &[usize]) -> Vec<Rate> {
    let mut rates: Vec<Rate> = (0..weights.len())
        .map(|w| match (weights[w] > 0.0, capped[w]) {
            (false, _) => Rate::Never,
            (true, true) => Rate::Always,
            (true, false) => Rate::Of(weights[w]),
        })
        .collect();
    // In id order, so the calibration's rounding does not depend on the task's order.
    let open: Vec<usize> = order
        .iter()
        .copied()
        .filter(|&w| rates[w] != Rate::Never && rates[w] != Rate::Always)
        .collect();
    let p_open = p - capped.iter().filter(|&&c| c).count();
    let equal = open.windows(2).all(|w| weights[w[0]] == weights[w[1]]);
    if p_open <= 1 || equal {
        return rates;
    }
    let total = sum_sorted(open.iter().map(|&w| weights[w]));
    let targets: Vec<f64> = open
        .iter()
        .map(|&w| p_open as f64 * weights[w] / total)
        .collect();
    for (&w, r) in open.iter().zip(calibrate(&targets, p_open)) {
        rates[w] = Rate::Of(r);
    }
    rates
}

/// Rates whose race includes racer i among its first `p` finishers with probability
/// `targets[i]` (each below 1, summing to p): a multiplicative fixed point, at most 100 steps,
/// from `+ - * /` and square roots, so it is the same everywhere.
fn calibrate(targets: &[f64], p: usize) -> Vec<f64> {
    let mut rates = targets.to_vec();
    for _ in 0..100 {
        let got = inclusion(&rates, p);
        let worst = got
            .iter()
            .zip(targets)
            .map(|(g, t)| (g - t).abs())
            .fold(0.0, f64::max);
        if !got.iter().all(|g| *g > 0.0 && *g < 1.0) {
            // Rates the integral cannot resolve: the weights themselves (the repair still
            // makes the counts exact, with more moves).
            return targets.to_vec();
        }
        if worst < 1e-10 {
            break;
        }
        // Scaling by the target over what it got alone converges slowly for shares near 1;
        // the odds' square root speeds that up (10 to 25 steps on the tests' cases).
        for ((r, &t), &g) in rates.iter_mut().zip(targets).zip(&got) {
            *r *= t / g * ((1.0 - g) / (1.0 - t)).sqrt();
        }
        let total = sum_sorted(rates.iter().copied());
        for r in &mut rates {
            *r /= total;
        }
    }
    rates
}

/// Each racer's chance to be among the first `p` of a race of exponential times with these
/// rates: `integral of r_i e^(-r_i t) P(fewer than p others finished by t) dt`, the others'
/// count a Poisson binomial (prefix and suffix tables leave racer i out), integrated by
/// Simpson's rule over `t = tau x / (1 - x)`, x in [0, 1].
fn inclusion(rates: &[f64], p: usize) -> Vec<f64> {
    const STEPS: usize = 256;
    let w = rates.len();
    let tau = p as f64 / sum_sorted(rates.iter().copied());
    let h = 1.0 / STEPS as f64;
    let mut out: Vec<f64> = rates.iter().map(|&r| r * tau).collect();
    let mut alive = vec![0.0; w];
    let mut prefix = vec![0.0; (w + 1) * p];
    let mut suffix = vec![0.0; (w + 1) * p];
    for step in 1..STEPS {
        let x = step as f64 * h;
        let t = tau * x / (1.0 - x);
        let dt = tau / ((1.0 - x) * (1.0 - x));
        let simpson = if step % 2 == 1 { 4.0 } else { 2.0 };
        for (a, &r) in alive.iter_mut().zip(rates) {
            *a = exp(-r * t);
        }
        // prefix[j][k]: chance that k of racers 0..j finished; suffix[j][k]: of racers j..w.
        prefix[..p].fill(0.0);
        prefix[0] = 1.0;
        suffix[w * p..].fill(0.0);
        suffix[w * p] = 1.0;
        for j in 0..w {
            for k in 0..p {
                let done = if k > 0 { prefix[j * p + k - 1] } else { 0.0 };
                prefix[(j + 1) * p + k] = prefix[j * p + k] * alive[j] + done * (1.0 - alive[j]);
            }
            let j = w - 1 - j;
            for k in 0..p {
                let done = if k > 0 {
                    suffix[(j + 1) * p + k - 1]
                } else {
                    0.0
                };
                suffix[j * p + k] = suffix[(j + 1) * p + k] * alive[j] + done * (1.0 - alive[j]);
            }
        }
        for i in 0..w {
            let mut fewer = 0.0;
            for a in 0..p {
                for b in 0..p - a {
                    fewer += prefix[i * p + a] * suffix[(i + 1) * p + b];
                }
            }
            out[i] += simpson * rates[i] * alive[i] * fewer * dt;
        }
    }
    for o in &mut out {
        *o *= h / 3.0;
    }
    out
}

/// A sum that does not depend on the order the terms come in.
fn sum_sorted(terms: impl Iterator<Item = f64>) -> f64 {
    let mut terms: Vec<f64> = terms.collect();
    terms.sort_by(f64::total_cmp);
    terms.iter().sum()
}

// ---- the repair: from the preference to exact counts.

/// A candidate move of one input from an over-quota to an under-quota worker, ordered by
/// margin (how much worse the new worker's score is), then input id, then the workers.
struct Candidate<'a> {
    margin: f64,
    input: &'a str,
    index: u32,
    from: u32,
    to: u32,
}

impl<'a> Candidate<'a> {
    /// Moving input `index` (`input`) from worker `from` to `to`, at the cost of their scores'
    /// difference.
    fn new(scores: &[f64], input: &'a str, index: usize, from: u32, to: usize) -> Self {
        Candidate {
            margin: scores[to] - scores[from as usize],
            input,
            index: index as u32,
            from,
            to: to as u32,
        }
    }

    fn key(&self) -> (f64, &str, u32, u32) {
        (self.margin, self.input, self.from, self.to)
    }
}

impl Ord for Candidate<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (self.key(), other.key());
        a.0.total_cmp(&b.0)
            .then(a.1.cmp(b.1))
            .then(a.2.cmp(&b.2))
            .then(a.3.cmp(&b.3))
    }
}

impl PartialOrd for Candidate<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Candidate<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Candidate<'_> {}

struct Repair<'a> {
    workers: &'a Workers,
    inputs: &'a [&'a str],
    hashes: &'a [u64],
    /// Each input's current workers, `per_input` a row.
    chosen: Vec<u32>,
    counts: Vec<u64>,
    quotas: &'a [u64],
    /// Inputs moved at least once (may repeat).
    touched: Vec<u32>,
    scores: Vec<f64>,
    threads: usize,
}

impl<'a> Repair<'a> {
    fn p(&self) -> usize {
        self.workers.per_input
    }

    fn set(&self, i: usize) -> &[u32] {
        let p = self.p();
        &self.chosen[i * p..(i + 1) * p]
    }

    fn excess(&self, w: usize) -> u64 {
        self.counts[w].saturating_sub(self.quotas[w])
    }

    fn under(&self, w: usize) -> bool {
        self.counts[w] < self.quotas[w]
    }

    /// Moves inputs until every count is its quota. Each round takes, for each pair of an
    /// over-quota and an under-quota worker, the inputs that lose least by moving between them,
    /// and applies them all in margin order while both ends still need it and the input does
    /// not have the new worker yet.
    fn run(&mut self) {
        loop {
            let excess: Vec<u64> = (0..self.workers.len()).map(|w| self.excess(w)).collect();
            if excess.iter().all(|&e| e == 0) {
                return;
            }
            let candidates = self.candidates(&excess);
            if candidates.is_empty() {
                // No over-quota worker's input can go straight to an under-quota worker:
                // move along a chain of workers instead.
                if !self.chain() {
                    debug_assert!(false, "quotas the repair cannot reach");
                    return;
                }
                continue;
            }
            for c in candidates {
                let (i, from, to) = (c.index as usize, c.from, c.to);
                let set = self.set(i);
                if self.excess(from as usize) > 0
                    && self.under(to as usize)
                    && !set.contains(&to)
                    && set.contains(&from)
                {
                    self.apply(i, from, to);
                }
            }
        }
    }

    fn apply(&mut self, i: usize, from: u32, to: u32) {
        let p = self.p();
        let slot = self.chosen[i * p..(i + 1) * p]
            .iter()
            .position(|&w| w == from)
            .expect("a move from a worker the input has");
        self.chosen[i * p + slot] = to;
        self.counts[from as usize] -= 1;
        self.counts[to as usize] += 1;
        self.touched.push(i as u32);
    }

    /// Per over-quota worker `a` and under-quota worker `b`, the cheapest moves from `a` to
    /// `b`, as many as either needs, in candidate order. Each core keeps them in bounded heaps
    /// (so memory follows the excess, not N, and there are no more heaps than pairs of
    /// workers) over its part of the inputs; the parts' best are then cut to the limits.
    fn candidates(&self, excess: &[u64]) -> Vec<Candidate<'a>> {
        let w_count = self.workers.len();
        let under: Vec<usize> = (0..w_count).filter(|&w| self.under(w)).collect();
        let mut limits = vec![0usize; w_count * w_count];
        for (from, &excess) in excess.iter().enumerate() {
            for &to in &under {
                limits[from * w_count + to] =
                    excess.min(self.quotas[to] - self.counts[to]) as usize;
            }
        }
        let parts = crate::cores::in_parallel(self.inputs.len(), self.threads, |range| {
            let mut heaps: Vec<BinaryHeap<Candidate<'a>>> =
                (0..w_count * w_count).map(|_| BinaryHeap::new()).collect();
            let mut scores = vec![0.0; w_count];
            for i in range {
                let set = self.set(i);
                if !set.iter().any(|&w| excess[w as usize] > 0) {
                    continue;
                }
                self.workers.score_all(self.hashes[i], &mut scores);
                for &from in set {
                    for &to in &under {
                        let pair = from as usize * w_count + to;
                        if limits[pair] == 0 || set.contains(&(to as u32)) {
                            continue;
                        }
                        let c = Candidate::new(&scores, self.inputs[i], i, from, to);
                        let heap = &mut heaps[pair];
                        if heap.len() < limits[pair] {
                            heap.push(c);
                        } else if heap.peek().is_some_and(|top| c < *top) {
                            heap.pop();
                            heap.push(c);
                        }
                    }
                }
            }
            heaps
                .into_iter()
                .flat_map(BinaryHeap::into_vec)
                .collect::<Vec<_>>()
        });
        let mut all: Vec<Candidate<'a>> = parts.into_iter().flatten().collect();
        all.sort_unstable();
        let mut taken = vec![0usize; w_count * w_count];
        all.retain(|c| {
            let pair = c.from as usize * w_count + c.to as usize;
            taken[pair] += 1;
            taken[pair] <= limits[pair]
        });
        all
    }

    /// One unit along the shortest chain of workers from an over-quota worker to an
    /// under-quota one, each step the cheapest move between the two workers. Found through
    /// the W x W table of cheapest moves; false when there is none.
    fn chain(&mut self) -> bool {
        let w_count = self.workers.len();
        let mut best: Vec<Option<Candidate<'a>>> = (0..w_count * w_count).map(|_| None).collect();
        let mut scores = std::mem::take(&mut self.scores);
        for i in 0..self.inputs.len() {
            self.workers.score_all(self.hashes[i], &mut scores);
            let set = self.set(i);
            for &from in set {
                for to in 0..w_count {
                    if self.workers.label[to].1.is_none() || set.contains(&(to as u32)) {
                        continue;
                    }
                    let c = Candidate::new(&scores, self.inputs[i], i, from, to);
                    let slot = &mut best[from as usize * w_count + to];
                    if slot.as_ref().is_none_or(|b| c < *b) {
                        *slot = Some(c);
                    }
                }
            }
        }
        self.scores = scores;
        // Breadth first from every over-quota worker, neighbours in id order.
        let mut by_rank: Vec<usize> = (0..w_count).collect();
        by_rank.sort_by_key(|&w| self.workers.rank[w]);
        let mut parent: Vec<Option<usize>> = vec![None; w_count];
        let mut seen = vec![false; w_count];
        let mut queue = VecDeque::new();
        for &w in &by_rank {
            if self.excess(w) > 0 {
                seen[w] = true;
                queue.push_back(w);
            }
        }
        let mut end = None;
        while let Some(x) = queue.pop_front() {
            if self.under(x) {
                end = Some(x);
                break;
            }
            for &y in &by_rank {
                if !seen[y] && best[x * w_count + y].is_some() {
                    seen[y] = true;
                    parent[y] = Some(x);
                    queue.push_back(y);
                }
            }
        }
        let Some(mut y) = end else {
            return false;
        };
        let mut steps = Vec::new();
        while let Some(x) = parent[y] {
            steps.push(best[x * w_count + y].take().expect("an edge of the search"));
            y = x;
        }
        // The chain's workers are distinct, so its steps stay valid together even when two
        // of them move the same input.
        for c in steps {
            self.apply(c.index as usize, c.from, c.to);
        }
        true
    }

    /// Each moved input's net change against its preference, as moves sorted by input id.
    fn moves(mut self) -> Vec<Move> {
        let mut touched = std::mem::take(&mut self.touched);
        touched.sort_unstable();
        touched.dedup();
        let p = self.p();
        let mut preferred = vec![0u32; p];
        let mut moves = Vec::new();
        for i in touched {
            let i = i as usize;
            self.workers
                .prefer(self.hashes[i], &mut self.scores, &mut preferred);
            let now = self.set(i);
            let mut lost: Vec<u32> = preferred
                .iter()
                .copied()
                .filter(|w| !now.contains(w))
                .collect();
            let mut gained: Vec<u32> = now
                .iter()
                .copied()
                .filter(|w| !preferred.contains(w))
                .collect();
            lost.sort_unstable();
            gained.sort_unstable();
            for (from, to) in lost.into_iter().zip(gained) {
                moves.push(Move {
                    input: self.inputs[i].to_owned(),
                    from: from as usize,
                    to: to as usize,
                });
            }
        }
        moves.sort_by(|a, b| a.input.cmp(&b.input).then(a.from.cmp(&b.from)));
        moves
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(weights: &[f64], per_input: usize) -> Spec {
        Spec {
            task_id: "task-1".into(),
            workers: weights
                .iter()
                .enumerate()
                .map(|(i, &w)| (format!("worker-{i}"), w))
                .collect(),
            per_input,
        }
    }

    fn ids(from: usize, to: usize) -> Vec<String> {
        (from..to).map(|i| format!("in-{i:07}")).collect()
    }

    /// The exact shares, capped at N by water-filling, computed apart from the module's code.
    fn exact_shares(n: u64, weights: &[f64], per_input: usize) -> Vec<f64> {
        let active = weights.iter().filter(|&&w| w > 0.0).count();
        let p = per_input.min(active) as f64;
        let mut shares = vec![0.0; weights.len()];
        let mut capped = vec![false; weights.len()];
        loop {
            let rest = n as f64 * p - n as f64 * capped.iter().filter(|&&c| c).count() as f64;
            let total: f64 = (0..weights.len())
                .filter(|&w| !capped[w] && weights[w] > 0.0)
                .map(|w| weights[w])
                .sum();
            let mut changed = false;
            for w in 0..weights.len() {
                if capped[w] || weights[w].is_nan() || weights[w] <= 0.0 {
                    continue;
                }
                shares[w] = rest * weights[w] / total;
                if shares[w] >= n as f64 - 1e-9 {
                    capped[w] = true;
                    shares[w] = n as f64;
                    changed = true;
                }
            }
            if !changed {
                return shares;
            }
        }
    }

    /// Each input's workers under a plan.
    fn assignment(spec: &Spec, inputs: &[&str], plan: &Partition) -> Vec<Vec<usize>> {
        let assigner = Assigner::new(spec);
        let mut by_input: std::collections::HashMap<&str, Vec<Move>> = Default::default();
        for m in &plan.moves {
            by_input
                .entry(m.input.as_str())
                .or_default()
                .push(m.clone());
        }
        inputs
            .iter()
            .map(|id| assigner.workers_of(id, by_input.get(id).map_or(&[][..], Vec::as_slice)))
            .collect()
    }

    /// Every rule of one plan: quotas within one of the exact (capped) share, summing to
    /// N * per_input; every input exactly per_input distinct workers; counts equal to the
    /// quotas; moves sorted; the same plan from reversed and shuffled input orders.
    fn check(n: usize, weights: &[f64], per_input: usize) -> Partition {
        let spec = spec(weights, per_input);
        let owned = ids(0, n);
        let inputs: Vec<&str> = owned.iter().map(String::as_str).collect();
        let plan = partition(&spec, &inputs);
        let case = format!("n={n} weights={weights:?} per_input={per_input}");
        let shares = exact_shares(n as u64, weights, per_input);
        let active = weights.iter().filter(|&&w| w > 0.0).count();
        let p = per_input.min(active);
        assert_eq!(plan.quotas.iter().sum::<u64>(), (n * p) as u64, "{case}");
        for (w, (&q, &share)) in plan.quotas.iter().zip(&shares).enumerate() {
            assert!(
                q as f64 >= share.floor() - 1e-6 && q as f64 <= share.ceil() + 1e-6,
                "{case}: worker {w} quota {q}, share {share}"
            );
            assert!(q <= n as u64, "{case}");
        }
        let mut counts = vec![0u64; weights.len()];
        for (id, set) in inputs.iter().zip(assignment(&spec, &inputs, &plan)) {
            assert_eq!(set.len(), p, "{case}: {id} has {set:?}");
            assert!(set.windows(2).all(|w| w[0] < w[1]), "{case}: {id} {set:?}");
            for w in set {
                assert!(weights[w] > 0.0, "{case}: {id} went to weightless {w}");
                counts[w] += 1;
            }
        }
        assert_eq!(counts, plan.quotas, "{case}");
        assert!(
            plan.moves
                .iter()
                .all(|m| inputs.contains(&m.input.as_str())),
            "{case}"
        );
        assert!(
            plan.moves
                .windows(2)
                .all(|m| (&m[0].input, m[0].from) < (&m[1].input, m[1].from)),
            "{case}: moves unsorted"
        );
        let mut reversed = inputs.clone();
        reversed.reverse();
        assert_eq!(super::partition(&spec, &reversed), plan, "{case}: reversed");
        let mut shuffled = inputs.clone();
        shuffle(&mut shuffled, n as u64);
        assert_eq!(super::partition(&spec, &shuffled), plan, "{case}: shuffled");
        plan
    }

    /// SplitMix64, the tests' own generator.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            mix(self.0)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn shuffle<T>(items: &mut [T], seed: u64) {
        let mut rng = Rng(seed);
        for i in (1..items.len()).rev() {
            items.swap(i, rng.below(i as u64 + 1) as usize);
        }
    }

    #[test]
    fn shares_within_one() {
        check(0, &[1.0, 1.0], 1);
        check(1, &[1.0], 1);
        check(1, &[1.0, 1.0, 1.0, 1.0, 1.0], 1);
        check(3, &[1.0, 1.0, 1.0, 1.0, 1.0], 1);
        check(4, &[1.0, 1.0, 1.0, 1.0, 1.0], 2);
        check(2, &[30.0, 25.0, 20.0, 15.0, 10.0], 3);
        check(10, &[1.0, 1.0, 1.0], 1);
        check(997, &[1.0, 1.0, 1.0], 1);
        check(997, &[90.0, 10.0], 1);
        check(1009, &[0.1, 0.2, 0.3], 1);
        check(1009, &[0.1, 0.2, 0.3, 0.4], 2);
        check(7919, &[30.0, 25.0, 20.0, 15.0, 10.0], 1);
        check(7919, &[30.0, 25.0, 20.0, 15.0, 10.0], 2);
        check(7919, &[30.0, 25.0, 20.0, 15.0, 10.0], 3);
        check(1000, &[1.0, 1.0, 1.0], 2);
        check(1000, &[1.0, 1.0, 1.0], 3);
        check(1000, &[1.0, 1.0, 1.0], 4);
        check(101, &[1.0 / 3.0, 2.0 / 3.0, 1e-3], 1);
        check(101, &[1e-300, 2e-300], 1);
        check(500, &[1e6, 1.0, 1.0], 2);
        check(500, &[10.0, 1.0, 1.0, 1.0], 2);
        check(500, &[10.0, 10.0, 1.0, 1.0], 3);
        check(500, &[1.0, 0.0, 2.0], 1);
        check(500, &[1.0, f64::NAN, -1.0, 2.0], 2);
        check(50, &[1.0; 64], 5);
    }

    #[test]
    fn a_share_above_n_is_capped_and_the_rest_shared() {
        // 80% of the weight at 2 per input would be 1.6 N: it is N, and the other two share N.
        let plan = check(1000, &[8.0, 1.0, 1.0], 2);
        assert_eq!(plan.quotas, vec![1000, 500, 500]);
        let plan = check(999, &[8.0, 1.0, 1.0], 2);
        assert_eq!(plan.quotas[0], 999);
        assert_eq!(plan.quotas[1] + plan.quotas[2], 999);
        // Capping one can cap the next: 6/10 and 3/10 of 3 N.
        assert_eq!(
            check(100, &[6.0, 3.0, 0.5, 0.5], 3).quotas,
            vec![100, 100, 50, 50]
        );
    }

    #[test]
    fn equal_remainders_are_not_broken_by_position() {
        // Three equal workers, N = 10: one gets 4, and which one follows the worker's id, so
        // reordering the workers does not change who it is.
        let plan = check(10, &[1.0, 1.0, 1.0], 1);
        let lucky = plan.quotas.iter().position(|&q| q == 4).unwrap();
        let mut reordered = spec(&[1.0, 1.0, 1.0], 1);
        reordered.workers.reverse();
        let owned = ids(0, 10);
        let inputs: Vec<&str> = owned.iter().map(String::as_str).collect();
        let again = plan_quotas_by_id(&reordered, &inputs);
        assert_eq!(again[&format!("worker-{lucky}")], 4);
    }

    fn plan_quotas_by_id(spec: &Spec, inputs: &[&str]) -> std::collections::HashMap<String, u64> {
        let plan = partition(spec, inputs);
        spec.workers
            .iter()
            .map(|(id, _)| id.clone())
            .zip(plan.quotas)
            .collect()
    }

    #[test]
    fn generated_cases() {
        let mut rng = Rng(11);
        for case in 0..300 {
            let w_count = 1 + rng.below(7) as usize;
            let weights: Vec<f64> = (0..w_count)
                .map(|_| match case % 4 {
                    0 => 1.0,
                    1 => 1.0 + rng.below(100) as f64,
                    2 => (1 + rng.below(1000)) as f64 / 7.0,
                    _ => [0.01, 1.0, 50.0][rng.below(3) as usize],
                })
                .collect();
            let per_input = 1 + rng.below(w_count as u64 + 1) as usize;
            let n = match case % 3 {
                0 => rng.below(10) as usize,
                1 => rng.below(200) as usize,
                _ => rng.below(3000) as usize,
            };
            check(n, &weights, per_input);
        }
    }

    #[test]
    fn moves_are_few() {
        // The preference is already within the random walk of the quotas, so the repair moves
        // O(sqrt N) inputs.
        for (weights, per_input) in [
            (&[1.0, 1.0, 1.0, 1.0, 1.0][..], 1),
            (&[30.0, 25.0, 20.0, 15.0, 10.0][..], 1),
            (&[1.0, 1.0, 1.0, 1.0, 1.0][..], 2),
            (&[30.0, 25.0, 20.0, 15.0, 10.0][..], 2),
            (&[30.0, 25.0, 20.0, 15.0, 10.0][..], 3),
            (&[5.0, 1.0, 1.0, 1.0][..], 2),
        ] {
            let plan = check(20_000, weights, per_input);
            assert!(
                plan.moves.len() < 1_000,
                "{weights:?}/{per_input}: {} moves",
                plan.moves.len()
            );
        }
    }

    /// The preference re-derived by brute force (libm's logarithm, a full sort): with one
    /// worker per input, or equal weights, the rates are the weights.
    fn brute_preference(spec: &Spec, input: &str) -> Vec<usize> {
        let mut scored: Vec<(f64, &str, usize)> = spec
            .workers
            .iter()
            .enumerate()
            .filter(|(_, (_, w))| *w > 0.0)
            .map(|(i, (id, w))| {
                let h = mix(input_hash(input).wrapping_add(key(TAG_LABEL, &spec.task_id, id)));
                let u = ((h >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
                (-u.ln() / w, id.as_str(), i)
            })
            .collect();
        scored.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(b.1)));
        let mut set: Vec<usize> = scored.iter().take(spec.per_input).map(|s| s.2).collect();
        set.sort_unstable();
        set
    }

    #[test]
    fn the_preference_is_weighted_rendezvous() {
        for (weights, per_input) in [
            (&[1.0, 1.0, 1.0][..], 1),
            (&[90.0, 10.0][..], 1),
            (&[30.0, 25.0, 20.0, 15.0, 10.0][..], 1),
            (&[1.0, 1.0, 1.0, 1.0, 1.0][..], 2),
            (&[1.0, 1.0, 1.0, 1.0, 1.0][..], 3),
        ] {
            let spec = spec(weights, per_input);
            let assigner = Assigner::new(&spec);
            for id in ids(0, 2000) {
                assert_eq!(
                    assigner.workers_of(&id, &[]),
                    brute_preference(&spec, &id),
                    "{weights:?}/{per_input}: {id}"
                );
            }
        }
    }

    #[test]
    fn one_weight_changed_moves_the_preference_only_to_or_from_its_worker() {
        for (old, new, changed) in [
            ([1.0, 1.0, 1.0, 1.0, 1.0], [2.0, 1.0, 1.0, 1.0, 1.0], 0),
            (
                [30.0, 25.0, 20.0, 15.0, 10.0],
                [30.0, 25.0, 20.0, 15.0, 20.0],
                4,
            ),
            (
                [30.0, 25.0, 20.0, 15.0, 10.0],
                [30.0, 5.0, 20.0, 15.0, 10.0],
                1,
            ),
        ] {
            let (a, b) = (Assigner::new(&spec(&old, 1)), Assigner::new(&spec(&new, 1)));
            for id in ids(0, 5000) {
                let (x, y) = (a.workers_of(&id, &[]), b.workers_of(&id, &[]));
                assert!(
                    x == y || x == [changed] || y == [changed],
                    "{id}: {x:?} {y:?}"
                );
            }
        }
    }

    #[test]
    fn the_number_of_threads_changes_nothing() {
        let owned = ids(0, 30_000);
        let inputs: Vec<&str> = owned.iter().map(String::as_str).collect();
        for (weights, per_input) in [
            (&[30.0, 25.0, 20.0, 15.0, 10.0][..], 1),
            (&[30.0, 25.0, 20.0, 15.0, 10.0][..], 2),
            (&[1.0, 1.0, 1.0][..], 2),
        ] {
            let spec = spec(weights, per_input);
            let one = partition_on(&spec, &inputs, 1);
            for threads in [2, 3, 7] {
                assert_eq!(
                    partition_on(&spec, &inputs, threads),
                    one,
                    "{weights:?}/{threads}"
                );
            }
        }
    }

    #[test]
    fn workers_of_ignores_other_inputs_moves() {
        let spec = spec(&[1.0, 1.0, 1.0], 1);
        let mine = workers_of(&spec, "a", &[]);
        let other = Move {
            input: "b".into(),
            from: mine[0],
            to: (mine[0] + 1) % 3,
        };
        assert_eq!(workers_of(&spec, "a", &[other]), mine);
    }

    #[test]
    fn ln_is_close_to_libm() {
        let mut rng = Rng(3);
        for _ in 0..100_000 {
            let u = ((rng.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
            let (ours, libm) = (ln(u), u.ln());
            assert!((ours - libm).abs() <= 1e-13 * libm.abs().max(1.0), "{u}");
        }
        for i in 0..10_000 {
            let x = -700.0 * f64::from(i) / 10_000.0;
            let (ours, libm) = (exp(x), x.exp());
            assert!((ours - libm).abs() <= 1e-13 * libm, "{x}: {ours} {libm}");
        }
    }

    #[test]
    fn the_race_includes_each_worker_by_its_share() {
        let close = |a: &[f64], b: &[f64], tolerance: f64| {
            a.iter().zip(b).all(|(x, y)| (x - y).abs() < tolerance)
        };
        // One finisher: a worker wins with probability rate / sum.
        let got = inclusion(&[3.0, 2.0, 1.0], 1);
        assert!(close(&got, &[0.5, 1.0 / 3.0, 1.0 / 6.0], 1e-9), "{got:?}");
        let got = inclusion(&[1.0, 1.0, 1.0], 2);
        assert!(close(&got, &[2.0 / 3.0; 3], 1e-9), "{got:?}");
        // Two of (3, 2, 1), by enumerating who finishes first.
        let (a, b, c) = (3.0, 2.0, 1.0);
        let t = a + b + c;
        let second = |x: f64, others: [f64; 2]| {
            x / t + others.iter().map(|&o| o / t * x / (t - o)).sum::<f64>()
        };
        let exact = [second(a, [b, c]), second(b, [a, c]), second(c, [a, b])];
        let got = inclusion(&[a, b, c], 2);
        assert!(close(&got, &exact, 1e-9), "{got:?} {exact:?}");
        for (targets, p) in [
            (vec![0.6, 0.5, 0.4, 0.3, 0.2], 2),
            (vec![0.9, 0.9, 0.6, 0.3, 0.2, 0.1], 3),
            (vec![0.99, 0.005, 0.005], 1),
        ] {
            let got = inclusion(&calibrate(&targets, p), p);
            assert!(close(&got, &targets, 1e-9), "{targets:?}: {got:?}");
        }
    }

    /// The sample's size is round(N * fraction), and growing the inputs only displaces
    /// inputs at the threshold: the old and new samples are both prefixes of one order.
    fn check_sample(n: usize, added: usize, fraction: f64) {
        let owned = ids(0, n + added);
        let all: Vec<&str> = owned.iter().map(String::as_str).collect();
        let chosen = |inputs: &[&str]| {
            let s = sample("task-1", inputs, fraction);
            let set: Vec<String> = inputs
                .iter()
                .copied()
                .filter(|id| sampled("task-1", id, &s))
                .map(str::to_owned)
                .collect();
            assert_eq!(
                set.len(),
                (inputs.len() as f64 * fraction.clamp(0.0, 1.0)).round() as usize,
                "n={} fraction={fraction}",
                inputs.len()
            );
            set
        };
        let before = chosen(&all[..n]);
        let after = chosen(&all);
        let mut shuffled = all.clone();
        shuffle(&mut shuffled, 5);
        assert_eq!(chosen(&shuffled).len(), after.len());
        assert_eq!(
            sample("task-1", &shuffled, fraction),
            sample("task-1", &all, fraction)
        );
        let key = review_key("task-1");
        let rank = |id: &str| (review_hash(key, id), id.to_owned());
        let kept_max = after.iter().map(|id| rank(id)).max();
        for id in &before {
            if !after.contains(id) {
                // Displaced: every input still sampled ranks before it.
                assert!(kept_max.as_ref().is_some_and(|m| *m < rank(id)), "{id}");
            }
        }
        if added > 0 && fraction > 0.0 {
            let displaced = before.iter().filter(|id| !after.contains(id)).count();
            assert!(
                displaced * 4 <= before.len() + 4,
                "{displaced} of {}",
                before.len()
            );
        }
    }

    #[test]
    fn samples() {
        check_sample(0, 0, 0.5);
        check_sample(10, 0, 0.0);
        check_sample(10, 0, 1.0);
        check_sample(10, 0, 0.05);
        check_sample(10, 0, 0.15);
        check_sample(997, 100, 0.1);
        check_sample(997, 100, 0.333);
        check_sample(2000, 200, 0.01);
        check_sample(2000, 2000, 0.5);
        check_sample(5, 0, 7.0);
        check_sample(5, 0, -1.0);
    }

    /// The share of inputs whose workers differ between two plans, over `inputs`.
    fn moved(a: (&Spec, &Partition), b: (&Spec, &Partition), inputs: &[&str]) -> f64 {
        let (wa, wb) = (assignment(a.0, inputs, a.1), assignment(b.0, inputs, b.1));
        let moved = wa.iter().zip(&wb).filter(|(x, y)| x != y).count();
        moved as f64 / inputs.len() as f64
    }

    #[test]
    fn stable_as_inputs_are_added() {
        let spec = spec(&[30.0, 25.0, 20.0, 15.0, 10.0], 1);
        let owned = ids(0, 22_000);
        let all: Vec<&str> = owned.iter().map(String::as_str).collect();
        let old = &all[..20_000];
        let (before, after) = (partition(&spec, old), partition(&spec, &all));
        let fraction = moved((&spec, &before), (&spec, &after), old);
        assert!(fraction < 0.02, "{fraction}");
    }

    #[test]
    fn stable_as_one_weight_changes() {
        let owned = ids(0, 20_000);
        let inputs: Vec<&str> = owned.iter().map(String::as_str).collect();
        for (old, new) in [
            ([1.0, 1.0, 1.0, 1.0, 1.0], [2.0, 1.0, 1.0, 1.0, 1.0]),
            (
                [30.0, 25.0, 20.0, 15.0, 10.0],
                [30.0, 25.0, 20.0, 15.0, 20.0],
            ),
        ] {
            let (a, b) = (spec(&old, 1), spec(&new, 1));
            let (pa, pb) = (partition(&a, &inputs), partition(&b, &inputs));
            let fraction = moved((&a, &pa), (&b, &pb), &inputs);
            let needed = minimum_moved(&pa.quotas, &pb.quotas) as f64 / inputs.len() as f64;
            assert!(
                fraction - needed < 0.03,
                "{old:?} -> {new:?}: {fraction} vs {needed}"
            );
        }
    }

    /// The fewest inputs (per_input 1) that must change worker for the quotas to change.
    fn minimum_moved(old: &[u64], new: &[u64]) -> u64 {
        old.iter()
            .zip(new)
            .map(|(&o, &n)| n.saturating_sub(o))
            .sum()
    }
}
