//! Status of long work inside one function call: units done, rate and time left.
//!
//! It exists because one call of a function can run for minutes (`fidelity` over 1,892 users,
//! `explain_lime` over thousands of rows, `recommend` for every user) and, without it, prints
//! nothing until it ends. The function that knows what its units are (rows, candidates, users)
//! starts a [`Meter`] with the session's [`StatusSink`] and enters it ([`enter`]); the code
//! underneath, which knows when a unit is done but not who listens, calls [`advance`]. A meter
//! reports at most once per the sink's interval (the first report after one interval, so short
//! calls say nothing), and costs an atomic add per call when nobody listens or between reports.
//!
//! Meters live on a per-thread stack: [`advance`] reaches the innermost meter entered on the
//! calling thread. Work spread over other threads shares the `Arc<Meter>` and calls
//! [`Meter::advance`] on it.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One report of a meter: what is running, how far it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    /// What runs, e.g. `fidelity(lastfm_ncf64, lime)`.
    pub task: String,
    /// The unit counted, plural: `rows`, `candidates`, `users`.
    pub unit: &'static str,
    pub done: u64,
    /// The units of the whole call, when known.
    pub total: Option<u64>,
    /// Time since the meter started.
    pub elapsed: Duration,
}

impl Status {
    /// Units per second so far.
    pub fn rate(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            self.done as f64 / s
        } else {
            0.0
        }
    }

    /// The time left at the rate so far, when the total is known and some work is done.
    pub fn remaining(&self) -> Option<Duration> {
        let total = self.total?;
        let rate = self.rate();
        if self.done == 0 || rate <= 0.0 {
            return None;
        }
        Some(Duration::from_secs_f64(
            total.saturating_sub(self.done) as f64 / rate,
        ))
    }

    /// The report as one line: `fidelity(m, lime): 812 of 1,892 rows (43 %), 41.3 rows/s,
    /// about 26 s left`.
    pub fn line(&self) -> String {
        let mut s = format!("{}: {}", self.task, thousands(self.done));
        if let Some(t) = self.total {
            let percent = if t > 0 {
                (100.0 * self.done as f64 / t as f64).floor().min(100.0)
            } else {
                100.0
            };
            s.push_str(&format!(" of {} {} ({percent} %)", thousands(t), self.unit));
        } else {
            s.push_str(&format!(" {}", self.unit));
        }
        let rate = self.rate();
        let rate = if rate >= 100.0 {
            thousands(rate.round() as u64)
        } else {
            format!("{rate:.1}")
        };
        s.push_str(&format!(", {rate} {}/s", self.unit));
        match self.remaining() {
            _ if self.total.is_some_and(|t| self.done >= t) => {}
            Some(left) if left.as_secs_f64() < 0.5 => s.push_str(", almost done"),
            Some(left) => s.push_str(&format!(", about {} left", duration(left))),
            None => {}
        }
        s
    }
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (k, c) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A duration as `42 s`, `3 min 05 s` or `2 h 07 min`.
fn duration(d: Duration) -> String {
    let s = d.as_secs_f64().round() as u64;
    if s < 60 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{} min {:02} s", s / 60, s % 60)
    } else {
        format!("{} h {:02} min", s / 3600, (s % 3600) / 60)
    }
}

/// Receives a meter's reports; `None` says the statement's work ended (a terminal status line is
/// cleared then).
pub type StatusFn = Arc<dyn Fn(Option<&Status>) + Send + Sync>;

/// Where a session sends status reports, and how often at most.
#[derive(Clone)]
pub struct StatusSink {
    pub report: StatusFn,
    /// The least time between two reports of one meter, and before its first (zero: every
    /// [`Meter::advance`] reports, which tests use).
    pub interval: Duration,
}

impl std::fmt::Debug for StatusSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusSink")
            .field("interval", &self.interval)
            .finish()
    }
}

/// Counts the units of one piece of work and reports through a [`StatusSink`].
pub struct Meter {
    task: String,
    unit: &'static str,
    /// `u64::MAX`: unknown.
    total: AtomicU64,
    done: AtomicU64,
    started: Instant,
    /// Nanoseconds after `started` before which no report is made.
    next_report: AtomicU64,
    sink: StatusSink,
}

impl std::fmt::Debug for Meter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meter")
            .field("task", &self.task)
            .field("done", &self.done.load(Ordering::Relaxed))
            .finish()
    }
}

const UNKNOWN: u64 = u64::MAX;

impl Meter {
    /// A meter of `total` units (when known) of `task`, or `None` when nobody listens.
    pub fn start(
        sink: Option<StatusSink>,
        task: impl Into<String>,
        unit: &'static str,
        total: Option<u64>,
    ) -> Option<Arc<Meter>> {
        let sink = sink?;
        Some(Arc::new(Meter {
            task: task.into(),
            unit,
            total: AtomicU64::new(total.unwrap_or(UNKNOWN)),
            done: AtomicU64::new(0),
            started: Instant::now(),
            next_report: AtomicU64::new(nanos(sink.interval)),
            sink,
        }))
    }

    /// Counts `n` more units done, and reports when the interval has passed since the last
    /// report (one thread reports; the others go on).
    pub fn advance(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
        let now = nanos(self.started.elapsed());
        let next = self.next_report.load(Ordering::Relaxed);
        if now < next {
            return;
        }
        let after = now.saturating_add(nanos(self.sink.interval));
        if self
            .next_report
            .compare_exchange(next, after, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            (self.sink.report)(Some(&self.status()));
        }
    }

    /// Sets the total, once it is known (or known better).
    pub fn set_total(&self, total: u64) {
        self.total.store(total, Ordering::Relaxed);
    }

    /// Lowers a known total by `n` units that turned out not to be there.
    pub fn shrink_total(&self, n: u64) {
        let _ = self
            .total
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                (t != UNKNOWN).then(|| t.saturating_sub(n))
            });
    }

    /// Where the work stands now.
    pub fn status(&self) -> Status {
        let total = self.total.load(Ordering::Relaxed);
        Status {
            task: self.task.clone(),
            unit: self.unit,
            done: self.done.load(Ordering::Relaxed),
            total: (total != UNKNOWN).then_some(total),
            elapsed: self.started.elapsed(),
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

thread_local! {
    static METERS: RefCell<Vec<Arc<Meter>>> = const { RefCell::new(Vec::new()) };
}

/// While alive, makes its meter the one [`advance`] reaches on this thread.
#[must_use = "the meter is current only while the scope lives"]
pub struct Scope {
    entered: bool,
}

impl Drop for Scope {
    fn drop(&mut self) {
        if self.entered {
            METERS.with(|m| {
                m.borrow_mut().pop();
            });
        }
    }
}

/// Makes `meter` (when there is one) current on this thread until the returned scope drops.
pub fn enter(meter: Option<&Arc<Meter>>) -> Scope {
    let entered = meter.is_some();
    if let Some(meter) = meter {
        METERS.with(|m| m.borrow_mut().push(meter.clone()));
    }
    Scope { entered }
}

/// The meter current on this thread, if any: for work that counts its units from other threads
/// (a [`Meter`] may be advanced from any thread).
pub fn current() -> Option<Arc<Meter>> {
    METERS.with(|m| m.borrow().last().cloned())
}

/// Calls `f` with the meter current on this thread, if any.
fn with_current(f: impl FnOnce(&Meter)) {
    METERS.with(|m| {
        if let Some(meter) = m.borrow().last() {
            f(meter)
        }
    });
}

/// Counts `n` units done on the current meter of this thread, if any.
pub fn advance(n: u64) {
    with_current(|m| m.advance(n));
}

/// Sets the total of the current meter (see [`Meter::set_total`]).
pub fn set_total(total: u64) {
    with_current(|m| m.set_total(total));
}

/// Lowers the total of the current meter by `n` units (see [`Meter::shrink_total`]).
pub fn shrink_total(n: u64) {
    with_current(|m| m.shrink_total(n));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn collecting(interval: Duration) -> (StatusSink, Arc<Mutex<Vec<Option<Status>>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let sink = StatusSink {
            report: Arc::new(move |st: Option<&Status>| {
                s.lock().unwrap().push(st.cloned());
            }),
            interval,
        };
        (sink, seen)
    }

    #[test]
    fn line_says_done_total_rate_and_time_left() {
        let s = Status {
            task: "fidelity(m, lime)".to_string(),
            unit: "rows",
            done: 812,
            total: Some(1892),
            elapsed: Duration::from_secs(20),
        };
        // 40.6 rows/s; 1,080 rows left take 26.6 s.
        assert_eq!(
            s.line(),
            "fidelity(m, lime): 812 of 1,892 rows (42 %), 40.6 rows/s, about 27 s left"
        );
        let unknown = Status {
            total: None,
            done: 1_234_567,
            ..s.clone()
        };
        assert_eq!(
            unknown.line(),
            "fidelity(m, lime): 1,234,567 rows, 61,728 rows/s"
        );
        let long = Status {
            done: 1,
            total: Some(10_000),
            elapsed: Duration::from_secs(1),
            ..s
        };
        assert_eq!(long.remaining(), Some(Duration::from_secs(9_999)));
        assert!(
            long.line().ends_with("about 2 h 46 min left"),
            "{}",
            long.line()
        );
        assert_eq!(duration(Duration::from_secs(185)), "3 min 05 s");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
    }

    #[test]
    fn reports_every_advance_at_interval_zero_and_none_before_a_long_interval() {
        let (sink, seen) = collecting(Duration::ZERO);
        let meter = Meter::start(Some(sink), "t", "rows", Some(3)).unwrap();
        {
            let _scope = enter(Some(&meter));
            advance(1);
            advance(2);
        }
        // Outside the scope nothing is counted.
        advance(5);
        let seen = seen.lock().unwrap();
        let done: Vec<u64> = seen.iter().map(|s| s.as_ref().unwrap().done).collect();
        assert_eq!(done, [1, 3]);
        assert_eq!(seen[1].as_ref().unwrap().total, Some(3));

        let (sink, seen) = collecting(Duration::from_secs(3600));
        let meter = Meter::start(Some(sink), "t", "rows", None).unwrap();
        let _scope = enter(Some(&meter));
        for _ in 0..1000 {
            advance(1);
        }
        assert!(seen.lock().unwrap().is_empty());
        assert_eq!(meter.status().done, 1000);
    }

    #[test]
    fn inner_meters_take_the_counts_and_totals_shrink() {
        let (sink, _) = collecting(Duration::from_secs(3600));
        let outer = Meter::start(Some(sink.clone()), "outer", "rows", None).unwrap();
        let inner = Meter::start(Some(sink), "inner", "rows", None).unwrap();
        let _o = enter(Some(&outer));
        set_total(100);
        advance(1);
        {
            let _i = enter(Some(&inner));
            advance(7);
            shrink_total(3);
        }
        advance(1);
        shrink_total(40);
        assert_eq!(outer.status().done, 2);
        assert_eq!(outer.status().total, Some(60));
        assert_eq!(inner.status().done, 7);
        assert_eq!(inner.status().total, None);
        // No sink: no meter, and entering none is harmless.
        assert!(Meter::start(None, "x", "rows", None).is_none());
        let _n = enter(None);
        advance(1);
        assert_eq!(outer.status().done, 3);
    }

    #[test]
    fn worker_threads_count_on_a_shared_meter() {
        let (sink, _) = collecting(Duration::ZERO);
        let meter = Meter::start(Some(sink), "t", "rows", Some(8000)).unwrap();
        std::thread::scope(|s| {
            for _ in 0..4 {
                let m = meter.clone();
                s.spawn(move || {
                    for _ in 0..2000 {
                        m.advance(1);
                    }
                });
            }
        });
        assert_eq!(meter.status().done, 8000);
    }
}
