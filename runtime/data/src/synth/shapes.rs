//! The class-defining objects of the synthetic dataset: a silhouette and a texture inside it, both defined in the
//! object's own coordinates (u, v in [-1, 1], v pointing down), so they persist through motion, rotation, scale,
//! lighting and colour changes. A class is one (shape, pattern) pair.

use std::f32::consts::PI;

pub const SHAPES: usize = 11;
pub const PATTERNS: usize = 4;
/// Classes available: (shape, pattern) = (c mod 11, c mod 4) is distinct for c < lcm(11, 4).
pub const MAX_CLASSES: u32 = 44;

/// The (shape, pattern) of class `c`.
pub fn class_parts(class: u32) -> (usize, usize) {
    (class as usize % SHAPES, class as usize % PATTERNS)
}

pub fn shape_name(shape: usize) -> &'static str {
    [
        "disk", "square", "triangle", "plus", "ring", "star", "diamond", "hexagon", "crescent",
        "H", "arrow",
    ][shape % SHAPES]
}

pub fn pattern_name(pattern: usize) -> &'static str {
    ["solid", "stripes", "checker", "rings"][pattern % PATTERNS]
}

/// Whether the object-space point (u, v) lies inside `shape`.
pub fn inside(shape: usize, u: f32, v: f32) -> bool {
    let (au, av) = (u.abs(), v.abs());
    let r = (u * u + v * v).sqrt();
    match shape % SHAPES {
        0 => r <= 0.95,
        1 => au.max(av) <= 0.8,
        // Upward triangle: base at v = 0.75, apex at v = -0.9.
        2 => (-0.9..=0.75).contains(&v) && au <= (v + 0.9) / 1.65 * 0.95,
        3 => (au <= 0.3 && av <= 0.95) || (av <= 0.3 && au <= 0.95),
        4 => (0.5..=0.95).contains(&r),
        5 => {
            let theta = v.atan2(u);
            r <= 0.55 + 0.4 * (5.0 * theta + PI / 2.0).cos()
        }
        6 => au + av <= 1.0,
        7 => (au * 0.866 + av * 0.5).max(av) <= 0.85,
        8 => r <= 0.95 && ((u - 0.45).powi(2) + (v + 0.15).powi(2)).sqrt() > 0.75,
        9 => ((0.45..=0.9).contains(&au) && av <= 0.9) || (av <= 0.2 && au <= 0.9),
        // Arrow pointing right: shaft and head.
        _ => {
            (av <= 0.25 && (-0.9..=0.2).contains(&u))
                || ((0.1..=0.95).contains(&u) && av <= (0.95 - u) * 0.85)
        }
    }
}

/// Which of the object's two colours the point (u, v) shows: false = first (light), true = second (dark).
pub fn pattern_is_second(pattern: usize, u: f32, v: f32) -> bool {
    match pattern % PATTERNS {
        0 => false,
        1 => (u * 2.5 * PI).sin() < 0.0,
        2 => ((u * 2.0 + 4.0).floor() as i32 + (v * 2.0 + 4.0).floor() as i32) % 2 == 1,
        _ => (((u * u + v * v).sqrt() * 3.2).floor() as i32) % 2 == 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(shape: usize) -> Vec<bool> {
        let n = 24;
        (0..n * n)
            .map(|i| {
                let (x, y) = (i % n, i / n);
                inside(
                    shape,
                    (x as f32 + 0.5) / n as f32 * 2.0 - 1.0,
                    (y as f32 + 0.5) / n as f32 * 2.0 - 1.0,
                )
            })
            .collect()
    }

    #[test]
    fn shapes_are_distinct_and_substantial() {
        let masks: Vec<Vec<bool>> = (0..SHAPES).map(mask).collect();
        for (a, ma) in masks.iter().enumerate() {
            let area = ma.iter().filter(|&&m| m).count() as f32 / ma.len() as f32;
            assert!(
                (0.2..0.8).contains(&area),
                "{} covers {area}",
                shape_name(a)
            );
            for (b, mb) in masks.iter().enumerate().skip(a + 1) {
                let differ =
                    ma.iter().zip(mb).filter(|(x, y)| x != y).count() as f32 / ma.len() as f32;
                assert!(
                    differ > 0.08,
                    "{} and {} differ on only {differ}",
                    shape_name(a),
                    shape_name(b)
                );
            }
        }
    }

    #[test]
    fn classes_map_to_distinct_parts() {
        let mut seen = std::collections::HashSet::new();
        for c in 0..MAX_CLASSES {
            assert!(seen.insert(class_parts(c)));
        }
    }
}
