//! The smooth terms of mgcv's formula language: `s(x)`, `s(x, k = 10)`, `s(x, bs = 'cr')`,
//! `s(x, by = f)`.
//!
//! The lme4 parser (`stats::lmm::formula`) reads the whole formula and hands each `s(...)` call
//! here untouched; this module checks its arguments (with the character offset of the problem,
//! so that SQL users see where a smooth is malformed) and turns it into a [`SmoothSpec`].

use serde::{Deserialize, Serialize};

use crate::stats::lmm::formula::{deparse, err_at, r_number, Expr};
use crate::stats::lmm::LmmError;

/// mgcv's default basis dimension (`k = -1` means 10 for 1-D smooths).
pub const DEFAULT_K: usize = 10;

/// The spline basis of a smooth.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BasisKind {
    /// Cubic regression spline (`bs = 'cr'`).
    Cr,
    /// Thin plate regression spline (`bs = 'tp'`, mgcv's default).
    Tp,
}

/// One `s(...)` call, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct SmoothSpec {
    /// The smoothed covariate.
    pub x: Expr,
    /// The basis dimension k.
    pub k: usize,
    /// The basis.
    pub bs: BasisKind,
    /// The `by` variable (numeric, a factor or an interaction of factors), if any.
    pub by: Option<Expr>,
    /// Offset of the call.
    pub pos: usize,
    /// Offset of the `k` value (for errors about k found later), or of the call.
    pub k_pos: usize,
}

/// Checks one smooth call.
pub fn parse_smooth(call: &Expr) -> Result<SmoothSpec, LmmError> {
    let Expr::Call(name, args, pos) = call else {
        return Err(LmmError::new(format!(
            "'{}' is not a smooth",
            deparse(call)
        )));
    };
    let pos = *pos;
    if name != "s" {
        return Err(err_at(
            format!("unknown smooth '{name}' at position {pos} (known: s)"),
            pos,
        ));
    }
    let mut x = None;
    let mut k = None;
    let mut bs = None;
    let mut by = None;
    for arg in args {
        match arg {
            Expr::Named(arg_name, value, p) => match arg_name.as_str() {
                "k" => {
                    let v = match value.as_ref() {
                        Expr::Num(v) => *v,
                        Expr::Neg(inner) => match inner.as_ref() {
                            Expr::Num(v) => -*v,
                            _ => f64::NAN,
                        },
                        _ => f64::NAN,
                    };
                    if !(v.is_finite() && v.fract() == 0.0) {
                        return Err(err_at(
                            format!(
                                "s(): k must be a whole number, got '{}' (position {p})",
                                deparse(value)
                            ),
                            *p,
                        ));
                    }
                    // mgcv: k = -1 (or any k <= 0) asks for the default dimension.
                    let kk = if v <= 0.0 { DEFAULT_K } else { v as usize };
                    if kk < 3 {
                        return Err(err_at(
                            format!(
                                "s(): k = {} is too small at position {p}: a 1-D cubic or thin \
                                 plate spline needs k >= 3 (mgcv raises it to 3 with a warning)",
                                r_number(v)
                            ),
                            *p,
                        ));
                    }
                    if kk > 2000 {
                        return Err(err_at(
                            format!("s(): k = {kk} is too large at position {p} (at most 2000)"),
                            *p,
                        ));
                    }
                    k = Some((kk, *p));
                }
                "bs" => {
                    let text = match value.as_ref() {
                        Expr::Str(t, _) => t.clone(),
                        Expr::Var(t, _) => t.clone(),
                        other => deparse(other),
                    };
                    bs = Some(match text.as_str() {
                        "cr" => BasisKind::Cr,
                        "tp" => BasisKind::Tp,
                        _ => {
                            return Err(err_at(
                                format!(
                                    "s(): unknown basis bs = '{text}' at position {p} (known: \
                                     'cr' cubic regression spline, 'tp' thin plate regression \
                                     spline)"
                                ),
                                *p,
                            ))
                        }
                    });
                }
                "by" => by = Some((**value).clone()),
                other => {
                    return Err(err_at(
                        format!(
                            "s(): unknown argument '{other}' at position {p} (known: k, bs, by)"
                        ),
                        *p,
                    ))
                }
            },
            Expr::Str(_, p) => {
                return Err(err_at(
                    format!("s(): a string must be a named argument (bs = '...') at position {p}"),
                    *p,
                ))
            }
            e if x.is_none() => x = Some(e.clone()),
            e => {
                let mut vars = Vec::new();
                crate::stats::lmm::formula::variables(e, &mut vars);
                let p = vars.first().map_or(pos, |v| v.1);
                return Err(err_at(
                    format!(
                        "s(): only smooths of one covariate are supported; '{}' at position {p} \
                         is a second one (multi-dimensional and tensor smooths are not)",
                        deparse(e)
                    ),
                    p,
                ));
            }
        }
    }
    let Some(x) = x else {
        return Err(err_at(
            format!("s() at position {pos} needs a covariate, e.g. s(x)"),
            pos,
        ));
    };
    let (k, k_pos) = k.unwrap_or((DEFAULT_K, pos));
    Ok(SmoothSpec {
        x,
        k,
        bs: bs.unwrap_or(BasisKind::Tp),
        by,
        pos,
        k_pos,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::lmm::formula::{expand_gam, parse};

    fn smooths(f: &str) -> Result<Vec<SmoothSpec>, LmmError> {
        let (_, rhs) = parse(f)?;
        let (_, calls) = expand_gam(&rhs)?;
        calls.iter().map(parse_smooth).collect()
    }

    #[test]
    fn parses_mgcv_smooths() {
        let s =
            smooths("y ~ f + s(x) + s(z, k = 5, bs = 'cr') + s(w, by = a:b, bs = \"tp\")").unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(
            (s[0].k, s[0].bs, s[0].by.is_none()),
            (10, BasisKind::Tp, true)
        );
        assert_eq!((s[1].k, s[1].bs), (5, BasisKind::Cr));
        assert_eq!(deparse(s[2].by.as_ref().unwrap()), "a:b");
        let (_, rhs) = parse("y ~ f * g + s(x, by = interaction(f, g), k = 6)").unwrap();
        let (ts, calls) = expand_gam(&rhs).unwrap();
        assert_eq!(ts.terms.len(), 3);
        assert_eq!(calls.len(), 1);
        let s = parse_smooth(&calls[0]).unwrap();
        assert_eq!(
            deparse(s.by.as_ref().unwrap()),
            "interaction(f, g)",
            "the by label is mgcv's"
        );
    }

    #[test]
    fn errors_have_positions() {
        let e = smooths("y ~ s(x, k = 1)").unwrap_err();
        assert_eq!(e.position, Some(9));
        assert!(e.message.contains("k = 1 is too small"), "{e}");
        let e = smooths("y ~ s()").unwrap_err();
        assert_eq!(e.position, Some(4));
        let e = smooths("y ~ s(x, bs = 'ps')").unwrap_err();
        assert_eq!(e.position, Some(9));
        assert!(e.message.contains("unknown basis bs = 'ps'"), "{e}");
        let e = smooths("y ~ s(x, m = 2)").unwrap_err();
        assert!(
            e.message.contains("unknown argument 'm' at position 9"),
            "{e}"
        );
        let e = smooths("y ~ s(x, z)").unwrap_err();
        assert_eq!(e.position, Some(9));
        let e = smooths("y ~ x + k = 2").unwrap_err();
        assert!(e.message.contains("unexpected '='"), "{e}");
    }
}
