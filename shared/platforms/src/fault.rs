//! Faults the simulators can inject: queued for the next requests, or at random with a given
//! share (deterministic for a seed).

use std::collections::VecDeque;

/// A fault the next request meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status (5xx); `Retry-After` for 429.
    Status { code: u16, retry_after_secs: Option<u64> },
    /// Answer after this delay (for client timeouts).
    Delay { millis: u64 },
    /// Apply the request, then answer after this delay: the client times out although the
    /// change was made (the case exactly-once effects must survive).
    LostReply { millis: u64 },
}

/// Which requests meet which faults.
#[derive(Debug, Default)]
pub struct FaultPlan {
    queued: VecDeque<Fault>,
    random: Option<(f64, Vec<Fault>, rand::rngs::StdRng)>,
    /// Faults served so far.
    pub served: u64,
}

impl FaultPlan {
    /// The next requests meet these faults, in order.
    pub fn inject(&mut self, faults: impl IntoIterator<Item = Fault>) {
        self.queued.extend(faults);
    }

    /// From now on each request meets one of `faults` (picked at random) with probability
    /// `share`, deterministically for a seed. An empty list stops it.
    pub fn fail_randomly(&mut self, share: f64, faults: Vec<Fault>, seed: u64) {
        use rand::SeedableRng;
        self.random =
            (!faults.is_empty()).then(|| (share.clamp(0.0, 1.0), faults, rand::rngs::StdRng::seed_from_u64(seed)));
    }

    /// The fault this request meets, if any.
    pub fn draw(&mut self) -> Option<Fault> {
        let mut f = self.queued.pop_front();
        if f.is_none() {
            if let Some((share, faults, rng)) = self.random.as_mut() {
                use rand::RngExt;
                if rng.random_bool(*share) {
                    f = Some(faults[rng.random_range(0..faults.len())]);
                }
            }
        }
        self.served += u64::from(f.is_some());
        f
    }
}
