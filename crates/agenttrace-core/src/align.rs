//! Aligning the steps of two runs, so a comparison shows the same step side by side even when a
//! run did more or fewer steps: a sequence alignment over (kind, name), not a match by index.
//!
//! Up to [`MAX_CELLS`] cells (n × m) a dynamic programme finds the alignment of highest score:
//! a pair with the same kind and name scores 3, a pair with only the same kind 1 (a renamed
//! step), and pairs of different kinds are never made. Beyond that (runs of thousands of steps
//! on both sides) a linear-memory method pairs the k-th occurrence of each (kind, name) in one
//! run with the k-th in the other, keeps the longest chain of pairs that does not cross
//! (patience alignment), and aligns the steps between consecutive pairs of the chain with the
//! dynamic programme.

use std::collections::HashMap;

/// The largest n × m aligned by the dynamic programme (16 MiB of scores).
pub const MAX_CELLS: usize = 4_000_000;

/// One row of an alignment: indexes into the two step lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aligned {
    Both(usize, usize),
    OnlyA(usize),
    OnlyB(usize),
}

/// A step as the alignment sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key<'a> {
    pub kind: &'a str,
    pub name: &'a str,
}

fn score(a: Key<'_>, b: Key<'_>) -> Option<u32> {
    if a.kind != b.kind {
        None
    } else if a.name == b.name {
        Some(3)
    } else {
        Some(1)
    }
}

/// Aligns `a` with `b`; every index of each appears exactly once, in order.
pub fn align(a: &[Key<'_>], b: &[Key<'_>]) -> Vec<Aligned> {
    if a.len().saturating_mul(b.len()) <= MAX_CELLS {
        by_dynamic_programme(a, b)
    } else {
        by_patience(a, b)
    }
}

fn by_dynamic_programme(a: &[Key<'_>], b: &[Key<'_>]) -> Vec<Aligned> {
    let (n, m) = (a.len(), b.len());
    let width = m + 1;
    // best[i][j]: the best score aligning a[i..] with b[j..].
    let mut best = vec![0u32; (n + 1) * width];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            let skip_a = best[(i + 1) * width + j];
            let skip_b = best[i * width + j + 1];
            let pair = score(a[i], b[j]).map_or(0, |s| s + best[(i + 1) * width + j + 1]);
            best[i * width + j] = skip_a.max(skip_b).max(pair);
        }
    }
    let mut out = Vec::with_capacity(n.max(m));
    let (mut i, mut j) = (0, 0);
    while i < n && j < m {
        let here = best[i * width + j];
        if let Some(s) = score(a[i], b[j])
            && here == s + best[(i + 1) * width + j + 1]
        {
            out.push(Aligned::Both(i, j));
            i += 1;
            j += 1;
        } else if here == best[(i + 1) * width + j] {
            out.push(Aligned::OnlyA(i));
            i += 1;
        } else {
            out.push(Aligned::OnlyB(j));
            j += 1;
        }
    }
    out.extend((i..n).map(Aligned::OnlyA));
    out.extend((j..m).map(Aligned::OnlyB));
    out
}

fn by_patience(a: &[Key<'_>], b: &[Key<'_>]) -> Vec<Aligned> {
    // The k-th occurrence of a key in B, for each key.
    let mut in_b: HashMap<Key<'_>, Vec<usize>> = HashMap::new();
    for (j, key) in b.iter().enumerate() {
        in_b.entry(*key).or_default().push(j);
    }
    let mut seen: HashMap<Key<'_>, usize> = HashMap::new();
    let mut pairs = Vec::new();
    for (i, key) in a.iter().enumerate() {
        let k = seen.entry(*key).or_insert(0);
        if let Some(&j) = in_b.get(key).and_then(|js| js.get(*k)) {
            pairs.push((i, j));
        }
        *k += 1;
    }
    let kept = longest_increasing_by_second(&pairs);
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    let (mut i, mut j) = (0, 0);
    for (pi, pj) in kept {
        fill_gap(a, b, i..pi, j..pj, &mut out);
        out.push(Aligned::Both(pi, pj));
        i = pi + 1;
        j = pj + 1;
    }
    fill_gap(a, b, i..a.len(), j..b.len(), &mut out);
    out
}

/// Aligns the steps between two pairs of the chain: with the dynamic programme when the gap is
/// small enough, else as removed then added.
fn fill_gap(
    a: &[Key<'_>],
    b: &[Key<'_>],
    ra: std::ops::Range<usize>,
    rb: std::ops::Range<usize>,
    out: &mut Vec<Aligned>,
) {
    if ra.len().saturating_mul(rb.len()) <= MAX_CELLS {
        let (da, db) = (ra.start, rb.start);
        out.extend(
            by_dynamic_programme(&a[ra], &b[rb])
                .into_iter()
                .map(|row| match row {
                    Aligned::Both(i, j) => Aligned::Both(i + da, j + db),
                    Aligned::OnlyA(i) => Aligned::OnlyA(i + da),
                    Aligned::OnlyB(j) => Aligned::OnlyB(j + db),
                }),
        );
    } else {
        out.extend(ra.map(Aligned::OnlyA));
        out.extend(rb.map(Aligned::OnlyB));
    }
}

/// The longest subsequence of `pairs` (increasing in the first) that also increases in the
/// second, in O(n log n).
fn longest_increasing_by_second(pairs: &[(usize, usize)]) -> Vec<(usize, usize)> {
    // tails[k]: index into pairs of the smallest tail of an increasing run of length k + 1.
    let mut tails: Vec<usize> = Vec::new();
    let mut previous: Vec<Option<usize>> = vec![None; pairs.len()];
    for (p, &(_, j)) in pairs.iter().enumerate() {
        let at = tails.partition_point(|&t| pairs[t].1 < j);
        previous[p] = at.checked_sub(1).map(|k| tails[k]);
        if at == tails.len() {
            tails.push(p);
        } else {
            tails[at] = p;
        }
    }
    let mut chain = Vec::with_capacity(tails.len());
    let mut cursor = tails.last().copied();
    while let Some(p) = cursor {
        chain.push(pairs[p]);
        cursor = previous[p];
    }
    chain.reverse();
    chain
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys<'a>(items: &[(&'a str, &'a str)]) -> Vec<Key<'a>> {
        items
            .iter()
            .map(|&(kind, name)| Key { kind, name })
            .collect()
    }

    fn check_complete(out: &[Aligned], n: usize, m: usize) {
        let mut next_a = 0;
        let mut next_b = 0;
        for row in out {
            match *row {
                Aligned::Both(i, j) => {
                    assert_eq!((i, j), (next_a, next_b));
                    next_a += 1;
                    next_b += 1;
                }
                Aligned::OnlyA(i) => {
                    assert_eq!(i, next_a);
                    next_a += 1;
                }
                Aligned::OnlyB(j) => {
                    assert_eq!(j, next_b);
                    next_b += 1;
                }
            }
        }
        assert_eq!((next_a, next_b), (n, m));
    }

    #[test]
    fn an_inserted_step_is_added_and_the_rest_still_pair() {
        let a = keys(&[("agent", "plan"), ("llm", "chat"), ("tool", "search")]);
        let b = keys(&[
            ("agent", "plan"),
            ("tool", "retry"),
            ("llm", "chat"),
            ("tool", "search"),
        ]);
        let out = align(&a, &b);
        check_complete(&out, 3, 4);
        assert_eq!(
            out,
            [
                Aligned::Both(0, 0),
                Aligned::OnlyB(1),
                Aligned::Both(1, 2),
                Aligned::Both(2, 3)
            ]
        );
    }

    #[test]
    fn a_removed_step_and_a_renamed_one() {
        let a = keys(&[("llm", "chat"), ("tool", "weather"), ("llm", "summary")]);
        let b = keys(&[("llm", "chat"), ("llm", "final answer")]);
        let out = align(&a, &b);
        check_complete(&out, 3, 2);
        assert_eq!(
            out,
            [Aligned::Both(0, 0), Aligned::OnlyA(1), Aligned::Both(2, 1)]
        );
    }

    #[test]
    fn different_kinds_never_pair() {
        let a = keys(&[("tool", "x")]);
        let b = keys(&[("llm", "x")]);
        assert_eq!(align(&a, &b), [Aligned::OnlyA(0), Aligned::OnlyB(0)]);
        assert_eq!(align(&a, &[]), [Aligned::OnlyA(0)]);
        assert_eq!(align(&[], &b), [Aligned::OnlyB(0)]);
        assert!(align(&[], &[]).is_empty());
    }

    #[test]
    fn reordered_steps_keep_the_longest_common_order() {
        let a = keys(&[("tool", "a"), ("tool", "b"), ("tool", "c")]);
        let b = keys(&[("tool", "c"), ("tool", "a"), ("tool", "b")]);
        let out = align(&a, &b);
        check_complete(&out, 3, 3);
        let pairs = out
            .iter()
            .filter(|r| matches!(r, Aligned::Both(i, j) if a[*i] == b[*j]))
            .count();
        assert_eq!(pairs, 2, "{out:?}");
    }

    #[test]
    fn big_runs_take_the_linear_path_and_stay_correct() {
        let names: Vec<String> = (0..5000).map(|i| format!("step {}", i % 700)).collect();
        let a: Vec<Key<'_>> = names
            .iter()
            .map(|n| Key {
                kind: "tool",
                name: n,
            })
            .collect();
        let mut b = a.clone();
        b.remove(10);
        b.insert(
            2000,
            Key {
                kind: "llm",
                name: "new",
            },
        );
        assert!(a.len() * b.len() > MAX_CELLS);
        let out = align(&a, &b);
        check_complete(&out, a.len(), b.len());
        let both = out
            .iter()
            .filter(|r| matches!(r, Aligned::Both(..)))
            .count();
        assert_eq!(both, 4999);
        assert!(out.contains(&Aligned::OnlyA(10)));
        assert!(out.contains(&Aligned::OnlyB(2000)));
    }
}
