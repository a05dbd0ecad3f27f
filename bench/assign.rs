//! The assignment's stability and speed (issue 11): `cargo bench --bench assign`. Prints how
//! many existing inputs change workers when inputs are appended or removed and when one weight
//! changes, against the targets, and how long `partition` takes at 100,000 and 1,000,000 inputs.

use std::collections::HashMap;
use std::time::Instant;

use annotask::assign::{Assigner, Move, Partition, Spec, partition};

fn spec(weights: &[f64], per_input: usize) -> Spec {
    Spec {
        task_id: "bench-task".into(),
        workers: weights
            .iter()
            .enumerate()
            .map(|(i, &w)| (format!("user-{i}"), w))
            .collect(),
        per_input,
    }
}

fn ids(from: usize, to: usize) -> Vec<String> {
    (from..to).map(|i| format!("img-{i:07}")).collect()
}

/// Each input's workers under a plan.
fn assignment(spec: &Spec, plan: &Partition, inputs: &[&str]) -> Vec<Vec<usize>> {
    let assigner = Assigner::new(spec);
    let mut by_input: HashMap<&str, Vec<Move>> = HashMap::new();
    for m in &plan.moves {
        by_input.entry(&m.input).or_default().push(m.clone());
    }
    inputs
        .iter()
        .map(|id| assigner.workers_of(id, by_input.get(id).map_or(&[][..], Vec::as_slice)))
        .collect()
}

/// The fraction of `common` whose workers differ between the two (spec, plan) pairs.
fn moved(a: (&Spec, &Partition), b: (&Spec, &Partition), common: &[&str]) -> f64 {
    let (x, y) = (assignment(a.0, a.1, common), assignment(b.0, b.1, common));
    x.iter().zip(&y).filter(|(x, y)| x != y).count() as f64 / common.len() as f64
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

fn main() {
    let n = 100_000;
    let owned = ids(0, n + 10_000);
    let all: Vec<&str> = owned.iter().map(String::as_str).collect();
    let old = &all[..n];
    println!(
        "stability at {n} inputs, 5 workers, per_input 1 (target: append <= 0.5%, weight change <= 1 point over the minimum)"
    );
    for weights in [[1.0, 1.0, 1.0, 1.0, 1.0], [30.0, 25.0, 20.0, 15.0, 10.0]] {
        let s = spec(&weights, 1);
        let before = partition(&s, old);
        let after = partition(&s, &all);
        let f = moved((&s, &before), (&s, &after), old);
        println!(
            "  append 10,000 to {weights:?}: {:.3}% of existing inputs moved ({} and {} moves) {}",
            100.0 * f,
            before.moves.len(),
            after.moves.len(),
            verdict(f <= 0.005)
        );
        let fewer = &old[10_000..];
        let removed = partition(&s, fewer);
        let f = moved((&s, &before), (&s, &removed), fewer);
        println!(
            "  remove 10,000 from {weights:?}: {:.3}% of remaining inputs moved",
            100.0 * f
        );
    }
    for (from, to) in [
        ([1.0, 1.0, 1.0, 1.0, 1.0], [2.0, 1.0, 1.0, 1.0, 1.0]),
        (
            [30.0, 25.0, 20.0, 15.0, 10.0],
            [30.0, 25.0, 20.0, 15.0, 20.0],
        ),
    ] {
        let (a, b) = (spec(&from, 1), spec(&to, 1));
        let (pa, pb) = (partition(&a, old), partition(&b, old));
        let f = moved((&a, &pa), (&b, &pb), old);
        // Per input one worker: an input can only raise one worker's count, so the new
        // quotas need at least the sum of the quota increases to move.
        let minimum: u64 = pa
            .quotas
            .iter()
            .zip(&pb.quotas)
            .map(|(&o, &n)| n.saturating_sub(o))
            .sum();
        let minimum = minimum as f64 / n as f64;
        println!(
            "  weights {from:?} -> {to:?}: {:.3}% moved, minimum {:.3}%, excess {:.3} points {}",
            100.0 * f,
            100.0 * minimum,
            100.0 * (f - minimum),
            verdict(f - minimum <= 0.01)
        );
    }
    println!("per_input 2 (no target):");
    for weights in [[1.0, 1.0, 1.0, 1.0, 1.0], [30.0, 25.0, 20.0, 15.0, 10.0]] {
        let s = spec(&weights, 2);
        let (before, after) = (partition(&s, old), partition(&s, &all));
        let f = moved((&s, &before), (&s, &after), old);
        println!(
            "  append 10,000 to {weights:?}: {:.3}% of existing inputs changed a worker ({} moves)",
            100.0 * f,
            before.moves.len()
        );
    }

    println!(
        "plan's time, 5 workers [30, 25, 20, 15, 10] (median of 5; one thread per core, at most one per 65,536 inputs):"
    );
    let big = ids(0, 1_000_000);
    let big: Vec<&str> = big.iter().map(String::as_str).collect();
    for size in [100_000, 1_000_000] {
        for per_input in [1, 2] {
            let s = spec(&[30.0, 25.0, 20.0, 15.0, 10.0], per_input);
            let mut times = Vec::new();
            let mut moves = 0;
            for _ in 0..5 {
                let start = Instant::now();
                let p = partition(&s, &big[..size]);
                times.push(start.elapsed());
                moves = p.moves.len();
            }
            times.sort();
            println!(
                "  {size} inputs, per_input {per_input}: {:.1} ms, {moves} moves",
                times[2].as_secs_f64() * 1e3
            );
        }
    }
    for per_input in [1, 2] {
        let s = spec(&[30.0, 25.0, 20.0, 15.0, 10.0], per_input);
        let start = Instant::now();
        for _ in 0..100 {
            std::hint::black_box(Assigner::new(&s));
        }
        println!(
            "Assigner::new, per_input {per_input}: {:.1} us",
            start.elapsed().as_secs_f64() * 1e6 / 100.0
        );
    }
    let s = spec(&[30.0, 25.0, 20.0, 15.0, 10.0], 1);
    let assigner = Assigner::new(&s);
    let start = Instant::now();
    let mut total = 0;
    for id in &big {
        total += assigner.workers_of(id, &[]).len();
    }
    println!(
        "workers_of: {:.0} ns an input ({total} workers over 1,000,000 inputs)",
        start.elapsed().as_secs_f64() * 1e9 / big.len() as f64
    );
}
