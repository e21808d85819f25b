//! "Did you mean": the name closest to a misspelt one (a field, an environment, a policy).

/// The closest candidate within a small edit distance.
pub(crate) fn did_you_mean<'a>(
    name: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    let candidates: Vec<&'a str> = candidates.collect();
    let lower = name.to_ascii_lowercase();
    if lower.len() >= 3 {
        if let Some(prefixed) = candidates.iter().find(|c| c.starts_with(&lower)) {
            return Some(prefixed);
        }
    }
    let limit = (name.len() / 3).clamp(1, 4);
    candidates
        .into_iter()
        .map(|c| (edit_distance(&name.to_ascii_lowercase(), c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: [&str; 5] = [
        "origins",
        "methods",
        "allow_headers",
        "credentials",
        "max_age",
    ];

    #[test]
    fn suggestions() {
        assert_eq!(
            did_you_mean("orgins", NAMES.iter().copied()),
            Some("origins")
        );
        assert_eq!(
            did_you_mean("allowed_headers", NAMES.iter().copied()),
            Some("allow_headers")
        );
        assert_eq!(
            did_you_mean("credential", NAMES.iter().copied()),
            Some("credentials")
        );
        assert_eq!(did_you_mean("zzz", NAMES.iter().copied()), None);
    }
}
