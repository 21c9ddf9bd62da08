//! `sdr(reference, estimate [, sr])`: how well an estimated source matches the true one, the
//! separation task's performance measure (thesis §4.4).

use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::adapter::{
    arg, check_sample_rate, opt, sample_rate, ArgSpec, Kind, OutKind, Params, Row, RowFunction,
    Value,
};
use super::embed::DEFAULT_SR;
use super::kernels::sdr::{sdr, Mode};
use super::kernels::AudioError;

#[user_doc(
    doc_section(label = "Audio Functions"),
    description = "Signal-to-distortion ratio in dB of an estimated source against the true one, as museval (BSS Eval v4, the SiSEC 2018 measure the thesis uses) computes it for a mono source: the clips are cut into one-second windows (sr samples, a last partial window left out), each window's SDR is 10·log10(Σ reference² / Σ (estimate − reference)²), windows where either clip is silent are left out, and the result is the median over the windows (NULL when none is left; +inf for a perfect estimate). Both clips must have the same length, at least one second. Mode 'scale_invariant' computes each window's SDR after rescaling the reference to the estimate by least squares (SI-SDR, Le Roux et al. 2019), for estimates whose level differs from the reference's.",
    syntax_example = "sdr(reference, estimate [, sr [, mode]])",
    sql_example = r#"```sql
> SELECT round(sdr(a, array_resize(a, 22050), 22050), 1) AS perfect, round(sdr(a, array_repeat(0.5, 22050)), 2) AS half FROM (SELECT array_repeat(1.0, 22050) AS a);
+---------+------+
| perfect | half |
+---------+------+
| inf     | 6.02 |
+---------+------+
```"#,
    argument(name = "reference", description = "The true source."),
    argument(
        name = "estimate",
        description = "The estimated source, of the same length."
    ),
    argument(
        name = "sr",
        description = "The sample rate in Hz: the window length (default 22050)."
    ),
    argument(
        name = "mode",
        description = "'bss_eval' (default, museval's SDR) or 'scale_invariant' (SI-SDR)."
    )
)]
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct Sdr;

static DOC: Sdr = Sdr;

impl RowFunction for Sdr {
    const NAME: &'static str = "sdr";
    const ARGS: &'static [ArgSpec] = &[
        arg("reference", Kind::Audio),
        arg("estimate", Kind::Audio),
        opt("sr", Kind::Float),
        opt("mode", Kind::Text),
    ];
    const OUT: OutKind = OutKind::Float;

    fn doc() -> Option<&'static Documentation> {
        DOC.doc()
    }

    fn validate(p: &dyn Params) -> Result<(), AudioError> {
        check_sample_rate(p, 2)?;
        mode(p.text(3)).map(|_| ())
    }

    fn compute(row: &Row<'_>) -> Result<Value, AudioError> {
        let sr = sample_rate(row.float(2).unwrap_or(DEFAULT_SR))?;
        let mode = mode(row.text(3))?;
        Ok(
            match sdr(row.audio(0)?, row.audio(1)?, sr as usize, mode)? {
                Some(v) => Value::Float(v),
                None => Value::Null,
            },
        )
    }
}

/// The mode named `name` (default: museval's).
fn mode(name: Option<&str>) -> Result<Mode, AudioError> {
    match name.map(str::to_ascii_lowercase).as_deref() {
        None | Some("bss_eval") => Ok(Mode::BssEval),
        Some("scale_invariant") => Ok(Mode::ScaleInvariant),
        Some(other) => Err(AudioError::BadParameter(format!(
            "unknown mode '{other}' (expected 'bss_eval' or 'scale_invariant')"
        ))),
    }
}
