//! VinDr-Mammo look-alike (datasets.md §2).

use super::{Plan, SynthConfig};
use crate::error::{Error, Result};

pub(super) fn plan(_cfg: &SynthConfig) -> Result<Plan> {
    Err(Error::Other(
        "mcq synth vindr-mammo is not implemented yet".into(),
    ))
}
