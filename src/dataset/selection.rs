//! Case selection as data: a [`Policy`] is an ordered list of [`Rule`]s,
//! each named by the exclusion reason it produces. Breast-level rules drop
//! every record of a breast (an examination) that fails them; the first
//! failing rule is the reason. The [`Funnel`] counts what each rule dropped,
//! stage by stage, for `mcq ingest --explain` and the funnel report.

use std::collections::BTreeMap;
use std::fmt;

/// A case-selection rule, named by its exclusion reason code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// The dataset itself recommends excluding the breast.
    ExcludedByDataset,
    /// The lesion is not visible on the images.
    InvisibleLesion,
    /// The record repeats another one.
    Duplicate,
    /// The record cannot be read (no patient, no side, ...).
    InvalidRecord,
    /// The breast lacks its CC or its MLO view.
    MissingView,
    /// The breast's records disagree on BI-RADS.
    InconsistentBirads,
    /// The breast's records disagree on pathology.
    InconsistentPathology,
    /// The breast's BI-RADS assessment is 0 (incomplete).
    Birads0,
}

impl Rule {
    /// The `exclusions.reason` code.
    pub fn reason(self) -> &'static str {
        match self {
            Rule::ExcludedByDataset => "excluded_by_dataset",
            Rule::InvisibleLesion => "invisible_lesion",
            Rule::Duplicate => "duplicate",
            Rule::InvalidRecord => "invalid_record",
            Rule::MissingView => "missing_view",
            Rule::InconsistentBirads => "inconsistent_birads",
            Rule::InconsistentPathology => "inconsistent_pathology",
            Rule::Birads0 => "birads_0",
        }
    }

    /// What the rule keeps, in words.
    pub fn description(self) -> &'static str {
        match self {
            Rule::ExcludedByDataset => "drop breasts the dataset marks for exclusion",
            Rule::InvisibleLesion => "drop breasts whose lesion is not visible",
            Rule::Duplicate => "drop repeated records",
            Rule::InvalidRecord => "drop records that cannot be read",
            Rule::MissingView => "keep breasts with both CC and MLO",
            Rule::InconsistentBirads => "keep breasts whose records agree on BI-RADS",
            Rule::InconsistentPathology => "keep breasts whose records agree on pathology",
            Rule::Birads0 => "drop breasts with BI-RADS 0",
        }
    }

    /// Whether `select` evaluates this rule (the others are decided by the
    /// adapter record by record).
    pub fn is_breast_level(self) -> bool {
        matches!(
            self,
            Rule::MissingView
                | Rule::InconsistentBirads
                | Rule::InconsistentPathology
                | Rule::Birads0
        )
    }
}

/// An ordered set of rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub rules: Vec<Rule>,
}

impl Policy {
    pub fn new(rules: &[Rule]) -> Policy {
        Policy {
            rules: rules.to_vec(),
        }
    }

    /// This policy plus the stricter rules asked for on the command line
    /// (`--require-both-views`, `--drop-birads-0`), each added once.
    pub fn with_extra(&self, extra: &Policy) -> Policy {
        let mut rules = self.rules.clone();
        for r in &extra.rules {
            if !rules.contains(r) {
                rules.push(*r);
            }
        }
        Policy { rules }
    }

    pub fn has(&self, rule: Rule) -> bool {
        self.rules.contains(&rule)
    }

    /// Only the breast-level rules, in order.
    pub fn breast_rules(&self) -> Vec<Rule> {
        self.rules
            .iter()
            .copied()
            .filter(|r| r.is_breast_level())
            .collect()
    }
}

/// A record as the breast-level rules see it.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The breast (examination) the record belongs to.
    pub breast: String,
    pub view: Option<String>,
    pub birads: Option<i32>,
    /// Harmonized pathology/diagnosis (`Benign`, `Malignant`, ...).
    pub pathology: Option<String>,
}

/// Why a record was dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drop {
    pub rule: Rule,
    pub detail: String,
}

/// Applies breast-level rules to candidates: for each, `None` (kept) or the
/// first rule its breast fails. Counts go to `funnel` under `stage`.
pub fn select(
    candidates: &[Candidate],
    rules: &[Rule],
    stage: &str,
    funnel: &mut Funnel,
) -> Vec<Option<Drop>> {
    let mut breasts: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, c) in candidates.iter().enumerate() {
        breasts.entry(c.breast.as_str()).or_default().push(i);
    }
    let mut out: Vec<Option<Drop>> = vec![None; candidates.len()];
    let mut alive: Vec<&str> = breasts.keys().copied().collect();
    for &rule in rules {
        let records_in: usize = alive.iter().map(|b| breasts[b].len()).sum();
        let mut dropped_records = 0;
        let mut dropped_breasts = 0;
        alive.retain(|breast| {
            let members: Vec<&Candidate> =
                breasts[breast].iter().map(|&i| &candidates[i]).collect();
            match breast_fails(rule, &members) {
                None => true,
                Some(detail) => {
                    for &i in &breasts[breast] {
                        out[i] = Some(Drop {
                            rule,
                            detail: detail.clone(),
                        });
                    }
                    dropped_records += breasts[breast].len();
                    dropped_breasts += 1;
                    false
                }
            }
        });
        funnel.add(FunnelStep {
            stage: stage.to_string(),
            rule,
            records_in,
            records_dropped: dropped_records,
            breasts_dropped: dropped_breasts,
        });
    }
    out
}

fn distinct<T: Ord + Clone>(values: impl Iterator<Item = T>) -> Vec<T> {
    let mut v: Vec<T> = values.collect();
    v.sort();
    v.dedup();
    v
}

fn breast_fails(rule: Rule, members: &[&Candidate]) -> Option<String> {
    match rule {
        Rule::MissingView => {
            let views = distinct(members.iter().filter_map(|c| c.view.clone()));
            let has = |v: &str| views.iter().any(|x| x == v);
            match (has("CC"), has("MLO")) {
                (true, true) => None,
                (false, false) => Some("neither CC nor MLO".into()),
                (true, false) => Some("CC only, no MLO".into()),
                (false, true) => Some("MLO only, no CC".into()),
            }
        }
        Rule::InconsistentBirads => {
            let values = distinct(members.iter().filter_map(|c| c.birads));
            (values.len() > 1).then(|| {
                format!(
                    "records disagree on BI-RADS: {}",
                    values
                        .iter()
                        .map(i32::to_string)
                        .collect::<Vec<_>>()
                        .join(" vs ")
                )
            })
        }
        Rule::InconsistentPathology => {
            let values = distinct(members.iter().filter_map(|c| c.pathology.clone()));
            (values.len() > 1)
                .then(|| format!("records disagree on pathology: {}", values.join(" vs ")))
        }
        Rule::Birads0 => members
            .iter()
            .any(|c| c.birads == Some(0))
            .then(|| "BI-RADS 0 (incomplete assessment)".to_string()),
        _ => None,
    }
}

/// One step of the case-selection funnel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunnelStep {
    /// Where the rule was applied (a subset file, "across subsets", ...).
    pub stage: String,
    pub rule: Rule,
    pub records_in: usize,
    pub records_dropped: usize,
    pub breasts_dropped: usize,
}

/// The case-selection funnel of one ingest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Funnel {
    pub records_total: usize,
    pub steps: Vec<FunnelStep>,
}

impl Funnel {
    /// Counts records an adapter dropped itself (record-level rules).
    /// Steps of the same stage and rule add up, so a streaming adapter can
    /// count chunk by chunk.
    pub fn record_step(
        &mut self,
        stage: &str,
        rule: Rule,
        records_in: usize,
        dropped: usize,
        breasts: usize,
    ) {
        self.add(FunnelStep {
            stage: stage.to_string(),
            rule,
            records_in,
            records_dropped: dropped,
            breasts_dropped: breasts,
        });
    }

    fn add(&mut self, step: FunnelStep) {
        match self
            .steps
            .iter_mut()
            .find(|s| s.stage == step.stage && s.rule == step.rule)
        {
            Some(s) => {
                s.records_in += step.records_in;
                s.records_dropped += step.records_dropped;
                s.breasts_dropped += step.breasts_dropped;
            }
            None => self.steps.push(step),
        }
    }

    pub fn records_dropped(&self) -> usize {
        self.steps.iter().map(|s| s.records_dropped).sum()
    }
}

impl fmt::Display for Funnel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "case selection: {} raw records", self.records_total)?;
        let mut stage = "";
        for s in &self.steps {
            if s.stage != stage {
                writeln!(f, "  {}:", s.stage)?;
                stage = &s.stage;
            }
            writeln!(
                f,
                "    {:<24} {:<48} {:>6} in  {:>6} dropped ({} breasts)",
                s.rule.reason(),
                s.rule.description(),
                s.records_in,
                s.records_dropped,
                s.breasts_dropped
            )?;
        }
        write!(
            f,
            "  kept {} of {} records",
            self.records_total - self.records_dropped(),
            self.records_total
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(breast: &str, view: &str, birads: i32, pathology: &str) -> Candidate {
        Candidate {
            breast: breast.into(),
            view: Some(view.into()),
            birads: Some(birads),
            pathology: Some(pathology.into()),
        }
    }

    #[test]
    fn first_failing_rule_is_the_reason_for_the_whole_breast() {
        let cands = vec![
            c("a", "CC", 4, "Malignant"),
            c("a", "MLO", 4, "Malignant"),
            c("b", "CC", 3, "Benign"), // no MLO
            c("c", "CC", 4, "Benign"),
            c("c", "MLO", 3, "Benign"), // BI-RADS disagree
            c("d", "CC", 0, "Benign"),
            c("d", "MLO", 0, "Malignant"), // pathology disagree before birads_0
            c("e", "CC", 0, "Benign"),
            c("e", "MLO", 0, "Benign"),
        ];
        let rules = [
            Rule::MissingView,
            Rule::InconsistentBirads,
            Rule::InconsistentPathology,
            Rule::Birads0,
        ];
        let mut funnel = Funnel::default();
        let out = select(&cands, &rules, "s", &mut funnel);
        let reasons: Vec<Option<&str>> = out
            .iter()
            .map(|d| d.as_ref().map(|d| d.rule.reason()))
            .collect();
        assert_eq!(
            reasons,
            [
                None,
                None,
                Some("missing_view"),
                Some("inconsistent_birads"),
                Some("inconsistent_birads"),
                Some("inconsistent_pathology"),
                Some("inconsistent_pathology"),
                Some("birads_0"),
                Some("birads_0"),
            ]
        );
        assert_eq!(out[2].as_ref().unwrap().detail, "CC only, no MLO");
        assert_eq!(funnel.steps[0].records_in, 9);
        assert_eq!(funnel.steps[1].records_in, 8);
        assert_eq!(
            funnel
                .steps
                .iter()
                .map(|s| s.breasts_dropped)
                .sum::<usize>(),
            4
        );
    }

    #[test]
    fn extra_rules_are_added_once() {
        let p = Policy::new(&[Rule::MissingView]);
        let q = p.with_extra(&Policy::new(&[Rule::MissingView, Rule::Birads0]));
        assert_eq!(q.rules, [Rule::MissingView, Rule::Birads0]);
    }
}
