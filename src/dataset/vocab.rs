//! Label vocabularies shared by the dataset adapters: each function maps one
//! raw value as a dataset publishes it (`DENSITY C`, `4a`, `medio-lateral
//! oblique`, `['Suspicious Calcification', 'Mass']`) onto the lake's
//! harmonized vocabulary (the `allowed` lists of `schemas/*.json`). The
//! mappings are const tables of (raw spelling, canonical value) pairs, matched
//! after trimming and ignoring case and separators, so a new spelling is one
//! table line. Every mapper returns [`Mapped`]: a canonical value, `Missing`
//! (the source says nothing) or `Invalid` (a value outside the vocabulary,
//! which the adapter stores as null with an `invalid_value` exclusion that
//! keeps the raw text). No function here panics on any input.

/// The outcome of mapping one raw value onto a harmonized vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mapped<T> {
    /// The raw value stands for this canonical value.
    Value(T),
    /// The source says nothing: empty, whitespace only, or a missing marker
    /// (`N/A`, `NA`, `nan`, any case). Stored as null, with no exclusion.
    Missing,
    /// A value outside the vocabulary (density `0`, `BI-RADS 7`, `??`).
    /// Stored as null, with an `invalid_value` exclusion carrying the raw text.
    Invalid,
}

impl<T> Mapped<T> {
    /// The canonical value, or `None` for both `Missing` and `Invalid`.
    pub fn value(self) -> Option<T> {
        match self {
            Mapped::Value(value) => Some(value),
            Mapped::Missing | Mapped::Invalid => None,
        }
    }

    /// True for `Missing`.
    pub fn is_missing(&self) -> bool {
        matches!(self, Mapped::Missing)
    }

    /// True for `Invalid`: the caller owes an `invalid_value` exclusion.
    pub fn is_invalid(&self) -> bool {
        matches!(self, Mapped::Invalid)
    }

    /// Applies `f` to a canonical value, keeping `Missing` and `Invalid`.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Mapped<U> {
        match self {
            Mapped::Value(value) => Mapped::Value(f(value)),
            Mapped::Missing => Mapped::Missing,
            Mapped::Invalid => Mapped::Invalid,
        }
    }
}

// ---------------------------------------------------------------------------
// Matching helpers
// ---------------------------------------------------------------------------

/// Spellings that mean "no value", compared after trimming, ignoring ASCII
/// case (`N/A` is CBIS-DDSM's, `NA` its rewritten copies' and NBIA's, `nan`
/// what pandas writes, `NAN` KAU's).
const MISSING_MARKERS: [&str; 3] = ["n/a", "na", "nan"];

/// True when the source says nothing: the value is empty or whitespace after
/// trimming, or is one of `N/A`, `NA`, `nan` in any case.
pub fn is_missing(raw: &str) -> bool {
    let trimmed = raw.trim();
    trimmed.is_empty()
        || MISSING_MARKERS
            .iter()
            .any(|marker| trimmed.eq_ignore_ascii_case(marker))
}

/// Characters ignored when matching a raw value against a table: spacing,
/// `_`, parentheses, and a `-` that follows a letter — the separators that
/// datasets use interchangeably (`BI-RADS 4`, `BIRADS4`, `cranio-caudal`,
/// `craniocaudal`, `BENIGN_WITHOUT_CALLBACK`, `caudo-cranial (from below)`).
/// A `-` after anything else is kept, so `-1` stays negative, and other
/// punctuation is kept, so `4?` does not quietly become `4`.
fn is_ignored(c: char, previous: Option<char>) -> bool {
    c.is_whitespace()
        || matches!(c, '_' | '(' | ')')
        || (c == '-' && previous.is_some_and(char::is_alphabetic))
}

/// The matching form of a value: lower case, ignored characters dropped.
fn squash_chars(text: &str) -> impl Iterator<Item = char> + '_ {
    let mut previous = None;
    text.chars()
        .filter(move |&c| {
            let ignored = is_ignored(c, previous);
            previous = Some(c);
            !ignored
        })
        .flat_map(char::to_lowercase)
}

fn squash(text: &str) -> String {
    squash_chars(text).collect()
}

/// Finds the entry whose key has the matching form `squashed`.
fn lookup<T: Copy>(table: &[(&str, T)], squashed: &str) -> Option<T> {
    table
        .iter()
        .find(|(key, _)| squash_chars(key).eq(squashed.chars()))
        .map(|&(_, value)| value)
}

/// Maps `raw` through one table: `Missing` for missing markers, the table's
/// value when a key matches, `Invalid` otherwise.
fn map_with<T: Copy>(table: &[(&str, T)], raw: &str) -> Mapped<T> {
    if is_missing(raw) {
        return Mapped::Missing;
    }
    // Most raw values are spelled as a key is (`CC`, `Mass`): no squashing.
    // Keys are unique in matching form (tested), so this finds what
    // `lookup` would.
    if let Some(&(_, value)) = table.iter().find(|(key, _)| key.eq_ignore_ascii_case(raw)) {
        return Mapped::Value(value);
    }
    lookup(table, &squash(raw)).map_or(Mapped::Invalid, Mapped::Value)
}

/// Removes the first of `prefixes` (in matching form) that `squashed` starts with.
fn strip_any_prefix<'a>(squashed: &'a str, prefixes: &[&str]) -> &'a str {
    prefixes
        .iter()
        .find_map(|prefix| squashed.strip_prefix(prefix))
        .unwrap_or(squashed)
}

/// Parses a plain unsigned decimal (`4`, `4.0`, `055`): digits and at most one
/// dot, nothing else (no sign, exponent, `inf` or `nan`).
fn parse_decimal(text: &str) -> Option<f64> {
    let mut digits = 0usize;
    let mut dots = 0usize;
    for c in text.chars() {
        match c {
            '0'..='9' => digits += 1,
            '.' => dots += 1,
            _ => return None,
        }
    }
    if digits == 0 || dots > 1 {
        return None;
    }
    text.parse().ok()
}

/// `value` as an integer when it is whole and within `low..=high`.
fn whole_within(value: f64, low: i32, high: i32) -> Option<i32> {
    let in_range = value >= f64::from(low) && value <= f64::from(high);
    // The range check bounds the cast; `fract` is NaN for infinities.
    (in_range && value.fract() == 0.0).then_some(value as i32)
}

// ---------------------------------------------------------------------------
// Breast density
// ---------------------------------------------------------------------------

/// ACR / BI-RADS density category numbers (CBIS-DDSM `breast density`,
/// INbreast `ACR`, DDSM `.ics` `DENSITY`) to letters.
const DENSITY_NUMBERS: [(i32, &str); 4] = [(1, "A"), (2, "B"), (3, "C"), (4, "D")];

/// Density letters and words (VinDr `DENSITY A` after its prefix is removed,
/// RSNA `A`..`D`, TOMPEI-CMMD words in any case).
const DENSITY_TERMS: &[(&str, &str)] = &[
    ("A", "A"),
    ("B", "B"),
    ("C", "C"),
    ("D", "D"),
    ("fatty", "A"),
    ("almost entirely fatty", "A"),
    ("entirely fatty", "A"),
    ("scattered", "B"),
    ("scattered fibroglandular", "B"),
    ("scattered fibroglandular density", "B"),
    ("scattered fibroglandular densities", "B"),
    ("scattered areas of fibroglandular density", "B"),
    ("heterogeneous", "C"),
    ("heterogeneous dense", "C"),
    ("heterogeneously dense", "C"),
    ("extremely dense", "D"),
];

/// Words that may precede the category (`DENSITY C`, `ACR 2`), in matching form.
const DENSITY_PREFIXES: [&str; 2] = ["density", "acr"];

/// Maps a breast density to the BI-RADS letter `A`..`D`.
///
/// Accepts the ACR numbers `1`..`4` (also written `1.0`), the letters `A`..`D`
/// with or without a `DENSITY` or `ACR` prefix (`DENSITY B`, `ACR 3`), and the
/// BI-RADS words: `fatty` / `almost entirely fatty` is A, `scattered` /
/// `scattered fibroglandular` is B, `heterogeneous dense` / `heterogeneously
/// dense` is C, `extremely dense` is D. Anything else, including `0` and `5`,
/// is `Invalid`; blanks (INbreast's run of spaces) are `Missing`. MIAS's
/// background codes `F`/`G`/`D` are not BI-RADS and must not be passed here
/// (its `D`, dense-glandular, would read as density D).
pub fn density(raw: &str) -> Mapped<&'static str> {
    if is_missing(raw) {
        return Mapped::Missing;
    }
    let squashed = squash(raw);
    let category = strip_any_prefix(&squashed, &DENSITY_PREFIXES);
    if let Some(number) = parse_decimal(category) {
        // `0` is not a density: CBIS-DDSM's calc test set has `0` for P_01743
        // (RIGHT CC and MLO); it becomes null with an `invalid_value` exclusion.
        return whole_within(number, 1, 4)
            .and_then(|n| DENSITY_NUMBERS.iter().find(|(k, _)| *k == n))
            .map_or(Mapped::Invalid, |&(_, letter)| Mapped::Value(letter));
    }
    lookup(DENSITY_TERMS, category).map_or(Mapped::Invalid, Mapped::Value)
}

// ---------------------------------------------------------------------------
// BI-RADS assessment
// ---------------------------------------------------------------------------

/// Prefixes before the category, in matching form: `BI-RADS 4` (VinDr),
/// `BIRAD 5` (KAU), `BIRADS 3`. Longest first.
const BIRADS_PREFIXES: [&str; 2] = ["birads", "birad"];

/// Sub-categories that fold into their category (INbreast `4a`/`4b`/`4c`).
const BIRADS_SUBCATEGORIES: &[(&str, i32)] = &[("4a", 4), ("4b", 4), ("4c", 4)];

/// Maps a BI-RADS assessment to its category number 0..=6.
///
/// Accepts `4`, `4.0` (TOMPEI-CMMD's numeric cells), `BI-RADS 4` (VinDr),
/// `BIRAD 5` (KAU), and INbreast's sub-categories `4a`, `4b`, `4c` in any case,
/// which all become 4. Numbers outside 0..=6, fractions and other text are
/// `Invalid`; blanks are `Missing`. The caller keeps the raw text in
/// `birads_raw`, so only the number is returned. `0` is a valid category
/// (incomplete); case selection decides whether to drop it.
pub fn birads(raw: &str) -> Mapped<i32> {
    if is_missing(raw) {
        return Mapped::Missing;
    }
    let squashed = squash(raw);
    let category = strip_any_prefix(&squashed, &BIRADS_PREFIXES);
    if let Some(number) = parse_decimal(category) {
        return whole_within(number, 0, 6).map_or(Mapped::Invalid, Mapped::Value);
    }
    lookup(BIRADS_SUBCATEGORIES, category).map_or(Mapped::Invalid, Mapped::Value)
}

// ---------------------------------------------------------------------------
// Diagnosis and pathology
// ---------------------------------------------------------------------------

/// Breast-level diagnoses. TOMPEI-CMMD's other classes, `Invisible`
/// (malignant but not locatable) and `Exclusion` (recommended exclusion), are
/// case-selection classes, not diagnoses: the adapter turns them into record
/// exclusions before asking for a diagnosis, so here they are `Invalid`.
const DIAGNOSIS_TERMS: &[(&str, &str)] = &[
    ("MALIGNANT", "Malignant"),
    ("BENIGN", "Benign"),
    ("BENIGN_WITHOUT_CALLBACK", "Benign"),
    ("Normal", "Normal"),
];

/// Maps a pathology or class label to the diagnosis `Normal` / `Benign` /
/// `Malignant`.
///
/// CBIS-DDSM's `MALIGNANT`, `BENIGN` and `BENIGN_WITHOUT_CALLBACK` (which
/// counts as Benign), and CMMD / TOMPEI-CMMD's `Benign`, `Malignant`, `Normal`
/// in any case. TOMPEI-CMMD's `Invisible` and `Exclusion` are `Invalid` here:
/// they select cases and are handled by its adapter.
pub fn diagnosis_from_pathology(raw: &str) -> Mapped<&'static str> {
    map_with(DIAGNOSIS_TERMS, raw)
}

/// Lesion-level pathologies (the findings table's `pathology`), including
/// MIAS's one-letter severities.
const PATHOLOGY_TERMS: &[(&str, &str)] = &[
    ("MALIGNANT", "Malignant"),
    ("BENIGN", "Benign"),
    ("BENIGN_WITHOUT_CALLBACK", "Benign"),
    ("M", "Malignant"),
    ("B", "Benign"),
];

/// Maps a finding's pathology to `Benign` / `Malignant`.
///
/// CBIS-DDSM's `MALIGNANT`, `BENIGN`, `BENIGN_WITHOUT_CALLBACK` (Benign), the
/// same words in any case, and MIAS's severity letters `B` and `M`. `Normal`
/// is not a lesion pathology, and DDSM's `UNPROVEN` is not a verdict: both are
/// `Invalid`.
pub fn pathology(raw: &str) -> Mapped<&'static str> {
    map_with(PATHOLOGY_TERMS, raw)
}

// ---------------------------------------------------------------------------
// View position and laterality
// ---------------------------------------------------------------------------

/// View codes and DICOM CID 4014 code meanings to the lake's view codes.
/// `ML` stays `ML` (a true medio-lateral view); INbreast's file names use
/// `ML` for MLO, see [`view_position_inbreast_filename`].
const VIEW_TERMS: &[(&str, &str)] = &[
    ("CC", "CC"),
    ("MLO", "MLO"),
    ("ML", "ML"),
    ("LM", "LM"),
    ("AT", "AT"),
    ("XCCL", "XCCL"),
    ("FB", "FB"),
    ("LMO", "LMO"),
    ("cranio-caudal", "CC"),
    ("medio-lateral oblique", "MLO"),
    ("medio-lateral", "ML"),
    ("latero-medial", "LM"),
    ("latero-medial oblique", "LMO"),
    ("cranio-caudal exaggerated laterally", "XCCL"),
    ("caudo-cranial (from below)", "FB"),
    ("from below", "FB"),
    ("axillary tail", "AT"),
];

/// Maps a view to its canonical code: `CC`, `MLO`, `ML`, `LM`, `AT`, `XCCL`,
/// `FB` or `LMO`.
///
/// Accepts the codes in any case (CBIS-DDSM, VinDr, RSNA, INbreast's sheet)
/// and the DICOM ViewCodeSequence code meanings CMMD uses (`cranio-caudal` is
/// CC, `medio-lateral oblique` is MLO) plus the other CID 4014 meanings
/// (`medio-lateral` ML, `latero-medial` LM, `latero-medial oblique` LMO,
/// `cranio-caudal exaggerated laterally` XCCL, `caudo-cranial (from below)`
/// FB) and `axillary tail` (AT). `ML` stays `ML`; for INbreast file names use
/// [`view_position_inbreast_filename`]. Views outside the lake's vocabulary
/// (`XCCM`, `SIO`, spot or magnification codes) are `Invalid`.
pub fn view_position(raw: &str) -> Mapped<&'static str> {
    map_with(VIEW_TERMS, raw)
}

/// INbreast file-name view tokens that differ from the generic reading.
const INBREAST_FILENAME_VIEWS: &[(&str, &str)] = &[("ML", "MLO")];

/// Maps the view token of an INbreast file name
/// (`20586908_6c613a14b80a8591_MG_R_ML_ANON.dcm`) to its canonical code.
///
/// INbreast names its MLO images `ML` (its spreadsheet says `MLO` for the same
/// images), so `ML` becomes `MLO` here; every other token is read as
/// [`view_position`] reads it.
pub fn view_position_inbreast_filename(raw: &str) -> Mapped<&'static str> {
    if is_missing(raw) {
        return Mapped::Missing;
    }
    match lookup(INBREAST_FILENAME_VIEWS, &squash(raw)) {
        Some(view) => Mapped::Value(view),
        None => view_position(raw),
    }
}

/// DICOM CID 4014 "View for Mammography": SNOMED CT codes (and their legacy
/// SNOMED RT `R-…` codes, still found in older headers) for the views in the
/// lake's vocabulary. CC 399162004 and MLO 399368009 are what CMMD uses
/// (datasets.md §3.3). The others were checked against CID 4014 as quoted by
/// several independent DICOM toolkits; note that 399099002 is latero-medial
/// oblique (LMO) and cranio-caudal exaggerated laterally (XCCL) is 399192008.
/// Left out on purpose, so they map to `Invalid`: 399101009 (XCCM), 399188001
/// (SIO), 441555000 (ISO), 127457009 (specimen) — views outside the lake's
/// vocabulary. CID 4014 has no axillary-tail view: 399011000 "axillary tail"
/// is a CID 4015 view *modifier* and is not a view code.
const VIEW_SNOMED: &[(&str, &str)] = &[
    ("399162004", "CC"),
    ("399368009", "MLO"),
    ("399260004", "ML"),
    ("399352003", "LM"),
    ("399099002", "LMO"),
    ("399192008", "XCCL"),
    ("399196006", "FB"),
    ("R-10242", "CC"),
    ("R-10226", "MLO"),
    ("R-10224", "ML"),
    ("R-10228", "LM"),
    ("R-10230", "LMO"),
    ("R-1024A", "XCCL"),
    ("R-10244", "FB"),
];

/// Maps a ViewCodeSequence code value (SNOMED CT, DICOM CID 4014) to the
/// canonical view code.
///
/// `399162004` is CC and `399368009` is MLO (CMMD); also `399260004` ML,
/// `399352003` LM, `399099002` LMO, `399192008` XCCL, `399196006` FB, and the
/// legacy SNOMED RT codes of the same views (`R-10242` CC, …). Other codes,
/// including known views outside the lake's vocabulary (XCCM, SIO, ISO), are
/// `Invalid`.
pub fn view_from_snomed(code: &str) -> Mapped<&'static str> {
    map_with(VIEW_SNOMED, code)
}

/// Breast sides: letters (VinDr, CMMD, RSNA, INbreast) and words (CBIS-DDSM
/// `LEFT`/`RIGHT`, CSAW-CC `Left`/`Right`).
const LATERALITY_TERMS: &[(&str, &str)] = &[("L", "L"), ("R", "R"), ("LEFT", "L"), ("RIGHT", "R")];

/// Maps a breast side to `L` or `R`: `L`/`R`, `LEFT`/`RIGHT`, `Left`/`Right`,
/// any case. Anything else (`B`, `both`) is `Invalid`.
pub fn laterality(raw: &str) -> Mapped<&'static str> {
    map_with(LATERALITY_TERMS, raw)
}

// ---------------------------------------------------------------------------
// Lesion descriptors (CBIS-DDSM lexicon lists)
// ---------------------------------------------------------------------------

/// Spellings of one term that are unified (the first becomes the second).
const LEXICON_SYNONYMS: &[(&str, &str)] = &[("lucent_centered", "lucent_center")];

/// Longest accepted term; real terms are under 30 characters
/// (`asymmetric_breast_tissue`), so a longer one is garbage.
const LEXICON_TERM_MAX_LEN: usize = 64;

/// One descriptor token as a lower_snake_case term, or `None` unless it is an
/// ASCII letter followed by ASCII letters, digits, `_` and inner spaces.
fn lexicon_term(token: &str) -> Option<String> {
    let term = token
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("_")
        .to_ascii_lowercase();
    let well_formed = term.starts_with(|c: char| c.is_ascii_lowercase())
        && term.len() <= LEXICON_TERM_MAX_LEN
        && term
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !well_formed {
        return None;
    }
    let unified = LEXICON_SYNONYMS
        .iter()
        .find(|(spelling, _)| *spelling == term)
        .map(|(_, canonical)| (*canonical).to_string());
    Some(unified.unwrap_or(term))
}

/// Splits a hyphen-joined descriptor list into sorted, de-duplicated
/// lower_snake_case lexicon terms.
///
/// CBIS-DDSM joins several descriptors with `-`
/// (`IRREGULAR-ARCHITECTURAL_DISTORTION`, `OVAL-LOBULATED`,
/// `PLEOMORPHIC-PLEOMORPHIC`); terms contain underscores but never hyphens, so
/// the list splits on `-`. The result is sorted alphabetically (the canonical
/// order, since the source order is not meaningful) with duplicates removed and
/// synonyms unified (`LUCENT_CENTERED` is `lucent_center`). `N/A`, blanks and
/// lists with no term are `Missing`; a token that does not start with a letter,
/// holds other characters than letters, digits, `_` and spaces, or is longer
/// than 64, makes the whole value `Invalid`. Unknown but well-formed terms are
/// kept: the fields have no closed vocabulary in the schema.
pub fn lexicon_list(raw: &str) -> Mapped<Vec<String>> {
    if is_missing(raw) {
        return Mapped::Missing;
    }
    let mut terms = Vec::new();
    for token in raw.split('-') {
        if is_missing(token) {
            continue;
        }
        match lexicon_term(token) {
            Some(term) => terms.push(term),
            None => return Mapped::Invalid,
        }
    }
    terms.sort();
    terms.dedup();
    if terms.is_empty() {
        Mapped::Missing
    } else {
        Mapped::Value(terms)
    }
}

/// CBIS-DDSM mass-shape terms that are really asymmetries, with their kind.
/// DDSM used the BI-RADS 4th-edition "special cases": *asymmetric breast
/// tissue* (more tissue over a large area than in the other breast) is what
/// the 5th edition calls a *global asymmetry*, and *focal asymmetric density*
/// became *focal asymmetry*.
const CBIS_ASYMMETRY_TERMS: &[(&str, &str)] = &[
    ("asymmetric_breast_tissue", "global"),
    ("focal_asymmetric_density", "focal"),
];

/// The CBIS-DDSM mass-shape term that is an architectural distortion.
const CBIS_DISTORTION_TERM: &str = "architectural_distortion";

/// Reads distortion and asymmetry out of CBIS-DDSM mass-shape terms (as
/// returned by [`lexicon_list`]), per SPEC §6.
///
/// Returns `(distortion, asymmetry_kinds)`: distortion is true when
/// `architectural_distortion` is among the terms; the kinds (sorted,
/// de-duplicated) are `global` for `asymmetric_breast_tissue` (the BI-RADS
/// 4th-edition name of a global asymmetry) and `focal` for
/// `focal_asymmetric_density`. The `asymmetry` flag is "kinds not empty". The
/// terms are not removed from the list; the caller decides whether
/// `mass_shape` keeps them.
pub fn cbis_shape_flags(terms: &[String]) -> (bool, Vec<String>) {
    let distortion = terms
        .iter()
        .any(|term| term.trim().eq_ignore_ascii_case(CBIS_DISTORTION_TERM));
    let mut kinds: Vec<String> = terms
        .iter()
        .filter_map(|term| {
            CBIS_ASYMMETRY_TERMS
                .iter()
                .find(|(shape, _)| term.trim().eq_ignore_ascii_case(shape))
                .map(|(_, kind)| (*kind).to_string())
        })
        .collect();
    kinds.sort();
    kinds.dedup();
    (distortion, kinds)
}

// ---------------------------------------------------------------------------
// Finding categories (VinDr, MIAS, TOMPEI-CMMD)
// ---------------------------------------------------------------------------

/// A metadata abnormality flag (a bool column of `metadata`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Flag {
    Mass,
    Calcification,
    Asymmetry,
    Distortion,
}

impl Flag {
    /// The `metadata` column the flag sets.
    pub fn column(self) -> &'static str {
        match self {
            Flag::Mass => "mass",
            Flag::Calcification => "calcification",
            Flag::Asymmetry => "asymmetry",
            Flag::Distortion => "distortion",
        }
    }
}

/// A harmonized finding category: the `finding` column of `findings`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Finding {
    Mass,
    Calcification,
    Asymmetry,
    FocalAsymmetry,
    GlobalAsymmetry,
    DevelopingAsymmetry,
    Distortion,
    SkinThickening,
    SkinRetraction,
    NippleRetraction,
    SuspiciousLymphNode,
    Other,
}

impl Finding {
    /// Every category, in schema order.
    pub const ALL: [Finding; 12] = [
        Finding::Mass,
        Finding::Calcification,
        Finding::Asymmetry,
        Finding::FocalAsymmetry,
        Finding::GlobalAsymmetry,
        Finding::DevelopingAsymmetry,
        Finding::Distortion,
        Finding::SkinThickening,
        Finding::SkinRetraction,
        Finding::NippleRetraction,
        Finding::SuspiciousLymphNode,
        Finding::Other,
    ];

    /// The value of the findings table's `finding` column (`focal_asymmetry`).
    pub fn as_str(self) -> &'static str {
        match self {
            Finding::Mass => "mass",
            Finding::Calcification => "calcification",
            Finding::Asymmetry => "asymmetry",
            Finding::FocalAsymmetry => "focal_asymmetry",
            Finding::GlobalAsymmetry => "global_asymmetry",
            Finding::DevelopingAsymmetry => "developing_asymmetry",
            Finding::Distortion => "distortion",
            Finding::SkinThickening => "skin_thickening",
            Finding::SkinRetraction => "skin_retraction",
            Finding::NippleRetraction => "nipple_retraction",
            Finding::SuspiciousLymphNode => "suspicious_lymph_node",
            Finding::Other => "other",
        }
    }

    /// The metadata flag the finding sets: every asymmetry kind sets
    /// `asymmetry`; skin, nipple and lymph-node findings and `Other` set none.
    pub fn flag(self) -> Option<Flag> {
        match self {
            Finding::Mass => Some(Flag::Mass),
            Finding::Calcification => Some(Flag::Calcification),
            Finding::Asymmetry
            | Finding::FocalAsymmetry
            | Finding::GlobalAsymmetry
            | Finding::DevelopingAsymmetry => Some(Flag::Asymmetry),
            Finding::Distortion => Some(Flag::Distortion),
            Finding::SkinThickening
            | Finding::SkinRetraction
            | Finding::NippleRetraction
            | Finding::SuspiciousLymphNode
            | Finding::Other => None,
        }
    }

    /// The `asymmetry_kinds` element of an asymmetry (`asymmetry`, `focal`,
    /// `global`, `developing`); `None` for other findings.
    pub fn asymmetry_kind(self) -> Option<&'static str> {
        match self {
            Finding::Asymmetry => Some("asymmetry"),
            Finding::FocalAsymmetry => Some("focal"),
            Finding::GlobalAsymmetry => Some("global"),
            Finding::DevelopingAsymmetry => Some("developing"),
            _ => None,
        }
    }

    /// The metadata `other_findings` term of a finding that sets no flag
    /// (`skin_thickening`, `suspicious_lymph_node`, …); `None` for flagged
    /// findings and for `Other`, whose term is the caller's to choose.
    pub fn other_findings_term(self) -> Option<&'static str> {
        match self {
            Finding::SkinThickening
            | Finding::SkinRetraction
            | Finding::NippleRetraction
            | Finding::SuspiciousLymphNode => Some(self.as_str()),
            _ => None,
        }
    }
}

/// A finding category as a dataset lists it: a finding, or the explicit
/// statement that the image has none (VinDr `No Finding`, MIAS `NORM`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FindingCategory {
    NoFinding,
    Finding(Finding),
}

impl FindingCategory {
    /// The finding, or `None` for `NoFinding`.
    pub fn finding(self) -> Option<Finding> {
        match self {
            FindingCategory::NoFinding => None,
            FindingCategory::Finding(finding) => Some(finding),
        }
    }
}

/// VinDr-Mammo `finding_categories` items (datasets.md §2.2), exact vocabulary.
const VINDR_CATEGORIES: &[(&str, FindingCategory)] = &[
    ("No Finding", FindingCategory::NoFinding),
    ("Mass", FindingCategory::Finding(Finding::Mass)),
    (
        "Suspicious Calcification",
        FindingCategory::Finding(Finding::Calcification),
    ),
    ("Asymmetry", FindingCategory::Finding(Finding::Asymmetry)),
    (
        "Focal Asymmetry",
        FindingCategory::Finding(Finding::FocalAsymmetry),
    ),
    (
        "Global Asymmetry",
        FindingCategory::Finding(Finding::GlobalAsymmetry),
    ),
    (
        "Architectural Distortion",
        FindingCategory::Finding(Finding::Distortion),
    ),
    (
        "Skin Thickening",
        FindingCategory::Finding(Finding::SkinThickening),
    ),
    (
        "Skin Retraction",
        FindingCategory::Finding(Finding::SkinRetraction),
    ),
    (
        "Nipple Retraction",
        FindingCategory::Finding(Finding::NippleRetraction),
    ),
    (
        "Suspicious Lymph Node",
        FindingCategory::Finding(Finding::SuspiciousLymphNode),
    ),
];

/// Maps one VinDr-Mammo `finding_categories` item to its category.
///
/// `Mass` and `Suspicious Calcification` set the mass and calcification flags;
/// `Asymmetry`, `Focal Asymmetry`, `Global Asymmetry` set asymmetry with kinds
/// `asymmetry`, `focal`, `global`; `Architectural Distortion` sets distortion;
/// `Skin Thickening`, `Skin Retraction`, `Nipple Retraction` and `Suspicious
/// Lymph Node` set no flag and go to `other_findings` (see the methods of
/// [`Finding`]). `No Finding` is [`FindingCategory::NoFinding`]. Matching
/// ignores case and spacing. An unknown name is `Invalid`: the caller may
/// still record it as finding `other` with its raw text, plus an exclusion.
pub fn vindr_category(name: &str) -> Mapped<FindingCategory> {
    map_with(VINDR_CATEGORIES, name)
}

/// MIAS `CLASS` codes (datasets.md §6.2). CIRC (circumscribed), SPIC
/// (spiculated) and MISC (ill-defined) are masses.
const MIAS_CLASSES: &[(&str, FindingCategory)] = &[
    ("NORM", FindingCategory::NoFinding),
    ("CALC", FindingCategory::Finding(Finding::Calcification)),
    ("CIRC", FindingCategory::Finding(Finding::Mass)),
    ("SPIC", FindingCategory::Finding(Finding::Mass)),
    ("MISC", FindingCategory::Finding(Finding::Mass)),
    ("ARCH", FindingCategory::Finding(Finding::Distortion)),
    ("ASYM", FindingCategory::Finding(Finding::Asymmetry)),
];

/// Maps a MIAS `CLASS` code to its category: `CALC` calcification; `CIRC`,
/// `SPIC`, `MISC` mass; `ARCH` distortion; `ASYM` asymmetry (plain kind);
/// `NORM` no finding. Any case; other codes are `Invalid`.
pub fn mias_class(raw: &str) -> Mapped<FindingCategory> {
    map_with(MIAS_CLASSES, raw)
}

/// TOMPEI-CMMD annotation `label`s (datasets.md §3.5). Judgement call: `FA`
/// (fibroadenoma) and `lipoma` are lesions that present as masses, so they
/// are masses here; `finding_raw` keeps the label.
const TOMPEI_LESION_LABELS: &[(&str, Finding)] = &[
    ("mass", Finding::Mass),
    ("calc", Finding::Calcification),
    ("dist", Finding::Distortion),
    ("FAD", Finding::FocalAsymmetry),
    ("FA", Finding::Mass),
    ("lipoma", Finding::Mass),
];

/// Maps a TOMPEI-CMMD annotation label to its finding: `mass` mass, `calc`
/// (also `"calc "` with its trailing space) calcification, `dist` distortion,
/// `FAD` (also `FAD)`) focal asymmetry, `FA` (fibroadenoma) and `lipoma` mass. Any case;
/// other labels are `Invalid`.
pub fn tompei_lesion_label(raw: &str) -> Mapped<Finding> {
    map_with(TOMPEI_LESION_LABELS, raw)
}

/// Parses a Python list literal of strings, as VinDr-Mammo writes
/// `finding_categories`: `['Mass']`, `['Suspicious Calcification', 'Mass']`.
///
/// Tolerates double-quoted items (`["Mass"]`), extra spaces, a trailing comma,
/// and the field still wrapped in its CSV quotes (`"['A', 'B']"`, doubled
/// inner quotes undone). Items are trimmed; `[]` is an empty list. Anything
/// else — no brackets, unquoted items, an unterminated string, text between
/// items — is malformed and gives `None`.
pub fn parse_python_list(raw: &str) -> Option<Vec<String>> {
    let mut text = raw.trim();
    let unwrapped;
    if text.len() >= 2 && text.starts_with('"') && text.ends_with('"') {
        unwrapped = text[1..text.len() - 1].replace("\"\"", "\"");
        text = unwrapped.trim();
    }
    let inner = text.strip_prefix('[')?.strip_suffix(']')?;
    let mut chars = inner.chars().peekable();
    let mut items = Vec::new();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let quote = match chars.next() {
            None => break,
            Some(quote @ ('\'' | '"')) => quote,
            Some(_) => return None,
        };
        let mut item = String::new();
        loop {
            match chars.next()? {
                '\\' => item.push(chars.next()?),
                c if c == quote => break,
                c => item.push(c),
            }
        }
        items.push(item.trim().to_string());
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        match chars.next() {
            None => break,
            Some(',') => {}
            Some(_) => return None,
        }
    }
    Some(items)
}

// ---------------------------------------------------------------------------
// CMMD abnormality
// ---------------------------------------------------------------------------

/// CMMD `abnormality` values to (mass, calcification).
const CMMD_ABNORMALITIES: &[(&str, (bool, bool))] = &[
    ("mass", (true, false)),
    ("calcification", (false, true)),
    ("both", (true, true)),
];

/// Maps CMMD's `abnormality` to the `(mass, calcification)` flags of the
/// breast: `mass` is (true, false), `calcification` (false, true), `both`
/// (true, true). Any case; other values are `Invalid`.
pub fn cmmd_abnormality(raw: &str) -> Mapped<(bool, bool)> {
    map_with(CMMD_ABNORMALITIES, raw)
}

// ---------------------------------------------------------------------------
// Age, yes/no flags, splits
// ---------------------------------------------------------------------------

/// Oldest plausible age in years.
const AGE_MAX_YEARS: i32 = 120;

/// Spellings meaning the age was withheld (INbreast `removed`), besides the
/// general missing markers.
const AGE_WITHHELD: [&str; 1] = ["removed"];

/// DICOM Age String units and how many of each make a year.
const AGE_UNITS_PER_YEAR: [(char, f64); 4] =
    [('Y', 1.0), ('M', 12.0), ('W', 365.25 / 7.0), ('D', 365.25)];

/// Maps an age to whole years within 0..=120.
///
/// Accepts a number (`55`, CMMD's numeric cells; `55.0`, RSNA's; a fraction
/// such as EMBED's `52.03` is truncated to completed years) and a DICOM Age
/// String (`053Y`; VinDr, CMMD headers). Age Strings in months, weeks or days
/// (`006M`, `012W`, `030D`) are converted to completed years, so infants read
/// as 0: a DICOM-valid value that a mammography cohort should not contain, but
/// not ours to reject. Anything else, or an age above 120, is `Invalid`;
/// blanks and INbreast's `removed` are `Missing`.
pub fn age(raw: &str) -> Mapped<i32> {
    let trimmed = raw.trim();
    if is_missing(trimmed)
        || AGE_WITHHELD
            .iter()
            .any(|word| trimmed.eq_ignore_ascii_case(word))
    {
        return Mapped::Missing;
    }
    let years = match parse_decimal(trimmed) {
        Some(years) => years,
        None => match age_string_years(trimmed) {
            Some(years) => years,
            None => return Mapped::Invalid,
        },
    };
    let max = f64::from(AGE_MAX_YEARS + 1);
    if !(0.0..max).contains(&years) {
        return Mapped::Invalid;
    }
    // In range, so the truncating cast is exact.
    Mapped::Value(years.trunc() as i32)
}

/// Years in a DICOM Age String (`nnnY`, `nnnM`, `nnnW`, `nnnD`; the unit in
/// any case, the digits count free), or `None` when it is not one.
fn age_string_years(text: &str) -> Option<f64> {
    let unit = text.chars().last()?;
    let per_year = AGE_UNITS_PER_YEAR
        .iter()
        .find(|(u, _)| u.eq_ignore_ascii_case(&unit))
        .map(|&(_, per_year)| per_year)?;
    let digits = text[..text.len() - unit.len_utf8()].trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<f64>().ok().map(|count| count / per_year)
}

/// Yes/no spellings: RSNA's `0`/`1` and `True`/`False`, INbreast's `X` marks.
const BOOLEAN_TERMS: &[(&str, bool)] = &[
    ("1", true),
    ("0", false),
    ("1.0", true),
    ("0.0", false),
    ("true", true),
    ("false", false),
    ("yes", true),
    ("no", false),
    ("X", true),
];

/// Maps a yes/no value: `1`/`0` (also `1.0`/`0.0`), `True`/`False`,
/// `yes`/`no`, any case, and INbreast's `X` mark (true). Blanks are `Missing`
/// (for mark columns such as INbreast's, the caller reads Missing as false);
/// anything else is `Invalid`.
pub fn boolean(raw: &str) -> Mapped<bool> {
    map_with(BOOLEAN_TERMS, raw)
}

/// Published split names to `source_split` values.
const SPLIT_TERMS: &[(&str, &str)] = &[
    ("train", "train"),
    ("training", "train"),
    ("test", "test"),
    ("testing", "test"),
    ("train+test", "train+test"),
];

/// Maps a published split name to `train`, `test` or `train+test`: VinDr's
/// `training`, CBIS-DDSM's `Training` / `Test` (its folder names), any case.
/// Other names (`val`) are `Invalid`.
pub fn source_split(raw: &str) -> Mapped<&'static str> {
    map_with(SPLIT_TERMS, raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lake::Table;
    use Mapped::{Invalid, Missing, Value};

    /// Values that say nothing, for every mapper.
    const BLANKS: &[&str] = &[
        "", " ", "\t\r\n", "\u{3000}", "N/A", "n/a", " N/A ", "NA", "na", "nan", "NaN", "NAN",
    ];

    /// Garbage that every mapper must call `Invalid` without panicking.
    fn garbage() -> Vec<String> {
        vec![
            "??".into(),
            "密度".into(),
            "🙂".into(),
            "é".into(),
            "\u{feff}".into(),
            "\u{0}".into(),
            "4?".into(),
            "N/A N/A".into(),
            "-1".into(),
            "-".repeat(3) + "1",
            "1e0".into(),
            "+4".into(),
            "4".repeat(100_000),
            "Z".repeat(100_000),
            "é".repeat(50_000),
        ]
    }

    /// Runs `map` over `cases`, then over the blanks (`Missing`) and the
    /// garbage (`Invalid`).
    fn check<T: PartialEq + std::fmt::Debug>(
        map: impl Fn(&str) -> Mapped<T>,
        cases: &[(&str, Mapped<T>)],
    ) {
        for (raw, expected) in cases {
            assert_eq!(&map(raw), expected, "raw value {raw:?}");
        }
        for raw in BLANKS {
            assert_eq!(map(raw), Missing, "blank {raw:?}");
        }
        for raw in garbage() {
            let shown: String = raw.chars().take(20).collect();
            assert_eq!(map(&raw), Invalid, "garbage {shown:?}");
        }
    }

    fn allowed(table: Table, column: &str) -> Vec<String> {
        table
            .schema()
            .column(column)
            .and_then(|c| c.allowed.clone())
            .unwrap_or_else(|| panic!("{}.{column} has an allowed list", table.name()))
    }

    fn assert_allowed<'a>(values: impl IntoIterator<Item = &'a str>, allowed: &[String]) {
        for value in values {
            assert!(
                allowed.iter().any(|a| a == value),
                "{value:?} not in {allowed:?}"
            );
        }
    }

    #[test]
    fn mapped_helpers() {
        assert_eq!(Value(3).value(), Some(3));
        assert_eq!(Missing::<i32>.value(), None);
        assert_eq!(Invalid::<i32>.value(), None);
        assert!(Missing::<i32>.is_missing() && !Missing::<i32>.is_invalid());
        assert!(Invalid::<i32>.is_invalid() && !Invalid::<i32>.is_missing());
        assert_eq!(Value(3).map(|n| n * 2), Value(6));
        assert_eq!(Missing::<i32>.map(|n| n * 2), Missing);
        assert_eq!(Invalid::<i32>.map(|n| n * 2), Invalid);
    }

    #[test]
    fn missing_markers() {
        for raw in BLANKS {
            assert!(is_missing(raw), "{raw:?}");
        }
        for raw in ["0", "N", "A", "NONE", "N/A-OVAL", "nana", "-"] {
            assert!(!is_missing(raw), "{raw:?}");
        }
    }

    #[test]
    fn density_spellings() {
        check(
            density,
            &[
                ("1", Value("A")),
                ("2", Value("B")),
                ("3", Value("C")),
                ("4", Value("D")),
                ("1.0", Value("A")),
                ("4.0", Value("D")),
                (" 3 ", Value("C")),
                ("DENSITY A", Value("A")),
                ("DENSITY B", Value("B")),
                ("DENSITY C", Value("C")),
                ("DENSITY D", Value("D")),
                ("density d", Value("D")),
                ("A", Value("A")),
                ("b", Value("B")),
                ("C", Value("C")),
                ("D", Value("D")),
                ("ACR 1", Value("A")),
                ("ACR 2", Value("B")),
                ("ACR3", Value("C")),
                ("acr 4", Value("D")),
                ("ACR B", Value("B")),
                ("fatty", Value("A")),
                ("Fatty", Value("A")),
                ("almost entirely fatty", Value("A")),
                ("scattered", Value("B")),
                ("Scattered Fibroglandular", Value("B")),
                ("scattered fibroglandular densities", Value("B")),
                ("heterogeneous dense", Value("C")),
                ("Heterogeneously Dense", Value("C")),
                ("heterogeneously-dense", Value("C")),
                ("extremely dense", Value("D")),
                ("EXTREMELY  DENSE", Value("D")),
                // CBIS-DDSM P_01743 has density 0.
                ("0", Invalid),
                ("0.0", Invalid),
                ("5", Invalid),
                ("2.5", Invalid),
                ("E", Invalid),
                ("dense", Invalid),
                ("density", Invalid),
                ("DENSITY", Invalid),
                ("1.0.0", Invalid),
                (".", Invalid),
                ("inf", Invalid),
                ("-2", Invalid),
                ("DENSITY -2", Invalid),
            ],
        );
    }

    #[test]
    fn birads_spellings() {
        check(
            birads,
            &[
                ("0", Value(0)),
                ("1", Value(1)),
                ("2", Value(2)),
                ("3", Value(3)),
                ("4", Value(4)),
                ("5", Value(5)),
                ("6", Value(6)),
                ("4.0", Value(4)),
                ("1.0", Value(1)),
                ("BI-RADS 1", Value(1)),
                ("BI-RADS 4", Value(4)),
                ("BI-RADS 5", Value(5)),
                ("bi-rads 3", Value(3)),
                ("BIRADS 2", Value(2)),
                ("BIRAD 5", Value(5)),
                ("BIRAD 1", Value(1)),
                ("4a", Value(4)),
                ("4b", Value(4)),
                ("4c", Value(4)),
                ("4A", Value(4)),
                ("4B", Value(4)),
                ("4C", Value(4)),
                ("BI-RADS 4c", Value(4)),
                (" 4a ", Value(4)),
                ("7", Invalid),
                ("10", Invalid),
                ("4.5", Invalid),
                ("3a", Invalid),
                ("4d", Invalid),
                ("BI-RADS", Invalid),
                ("BI-RADS 7", Invalid),
                ("BI-RADS N/A", Invalid),
                ("BI-RADS -1", Invalid),
                ("inf", Invalid),
                ("(4)", Value(4)),
            ],
        );
    }

    #[test]
    fn diagnosis_spellings() {
        check(
            diagnosis_from_pathology,
            &[
                ("MALIGNANT", Value("Malignant")),
                ("BENIGN", Value("Benign")),
                ("BENIGN_WITHOUT_CALLBACK", Value("Benign")),
                ("Benign", Value("Benign")),
                ("Malignant", Value("Malignant")),
                ("Normal", Value("Normal")),
                ("normal", Value("Normal")),
                ("NORMAL", Value("Normal")),
                (" malignant ", Value("Malignant")),
                // TOMPEI-CMMD case-selection classes are not diagnoses.
                ("Invisible", Invalid),
                ("Exclusion", Invalid),
                ("B", Invalid),
                ("M", Invalid),
                ("UNPROVEN", Invalid),
            ],
        );
    }

    #[test]
    fn pathology_spellings() {
        check(
            pathology,
            &[
                ("MALIGNANT", Value("Malignant")),
                ("BENIGN", Value("Benign")),
                ("BENIGN_WITHOUT_CALLBACK", Value("Benign")),
                ("Benign", Value("Benign")),
                ("malignant", Value("Malignant")),
                ("B", Value("Benign")),
                ("M", Value("Malignant")),
                ("m", Value("Malignant")),
                ("Normal", Invalid),
                ("UNPROVEN", Invalid),
            ],
        );
    }

    #[test]
    fn view_position_spellings() {
        check(
            view_position,
            &[
                ("CC", Value("CC")),
                ("MLO", Value("MLO")),
                ("ML", Value("ML")),
                ("LM", Value("LM")),
                ("AT", Value("AT")),
                ("XCCL", Value("XCCL")),
                ("FB", Value("FB")),
                ("LMO", Value("LMO")),
                ("cc", Value("CC")),
                (" mlo ", Value("MLO")),
                ("cranio-caudal", Value("CC")),
                ("craniocaudal", Value("CC")),
                ("Cranio-Caudal", Value("CC")),
                ("medio-lateral oblique", Value("MLO")),
                ("mediolateral oblique", Value("MLO")),
                ("medio-lateral", Value("ML")),
                ("latero-medial", Value("LM")),
                ("latero-medial oblique", Value("LMO")),
                ("cranio-caudal exaggerated laterally", Value("XCCL")),
                ("caudo-cranial (from below)", Value("FB")),
                ("from below", Value("FB")),
                ("axillary tail", Value("AT")),
                ("XCCM", Invalid),
                ("SIO", Invalid),
                ("CCX", Invalid),
                ("LEFT", Invalid),
            ],
        );
    }

    #[test]
    fn view_position_inbreast_filename_spellings() {
        check(
            view_position_inbreast_filename,
            &[
                ("ML", Value("MLO")),
                ("ml", Value("MLO")),
                ("CC", Value("CC")),
                ("MLO", Value("MLO")),
                ("FB", Value("FB")),
                ("XCCM", Invalid),
            ],
        );
    }

    #[test]
    fn view_from_snomed_codes() {
        check(
            view_from_snomed,
            &[
                ("399162004", Value("CC")),
                ("399368009", Value("MLO")),
                ("399260004", Value("ML")),
                ("399352003", Value("LM")),
                ("399099002", Value("LMO")),
                ("399192008", Value("XCCL")),
                ("399196006", Value("FB")),
                (" 399162004 ", Value("CC")),
                ("R-10242", Value("CC")),
                ("R-10226", Value("MLO")),
                ("R-10224", Value("ML")),
                ("R-10228", Value("LM")),
                ("R-10230", Value("LMO")),
                ("R-1024A", Value("XCCL")),
                ("r-1024a", Value("XCCL")),
                ("R-10244", Value("FB")),
                // Known views outside the lake's vocabulary, and a modifier.
                ("399101009", Invalid),
                ("399188001", Invalid),
                ("441555000", Invalid),
                ("127457009", Invalid),
                ("399011000", Invalid),
                ("39916200", Invalid),
                ("CC", Invalid),
            ],
        );
    }

    #[test]
    fn laterality_spellings() {
        check(
            laterality,
            &[
                ("L", Value("L")),
                ("R", Value("R")),
                ("l", Value("L")),
                ("r", Value("R")),
                ("LEFT", Value("L")),
                ("RIGHT", Value("R")),
                ("Left", Value("L")),
                ("Right", Value("R")),
                (" right ", Value("R")),
                ("B", Invalid),
                ("both", Invalid),
                ("LR", Invalid),
            ],
        );
    }

    fn terms(list: &[&str]) -> Mapped<Vec<String>> {
        Value(list.iter().map(|t| t.to_string()).collect())
    }

    #[test]
    fn lexicon_list_spellings() {
        check(
            lexicon_list,
            &[
                (
                    "IRREGULAR-ARCHITECTURAL_DISTORTION",
                    terms(&["architectural_distortion", "irregular"]),
                ),
                ("OVAL-LOBULATED", terms(&["lobulated", "oval"])),
                ("LOBULATED-OVAL", terms(&["lobulated", "oval"])),
                ("PLEOMORPHIC-PLEOMORPHIC", terms(&["pleomorphic"])),
                ("REGIONAL-REGIONAL", terms(&["regional"])),
                (
                    "VASCULAR-COARSE-LUCENT_CENTER-ROUND_AND_REGULAR-PUNCTATE",
                    terms(&[
                        "coarse",
                        "lucent_center",
                        "punctate",
                        "round_and_regular",
                        "vascular",
                    ]),
                ),
                ("LUCENT_CENTERED", terms(&["lucent_center"])),
                ("LUCENT_CENTER-LUCENT_CENTERED", terms(&["lucent_center"])),
                ("SPICULATED", terms(&["spiculated"])),
                (
                    "CIRCUMSCRIBED-MICROLOBULATED-ILL_DEFINED",
                    terms(&["circumscribed", "ill_defined", "microlobulated"]),
                ),
                ("FINE_LINEAR_BRANCHING", terms(&["fine_linear_branching"])),
                (
                    "ROUND-IRREGULAR-ARCHITECTURAL_DISTORTION",
                    terms(&["architectural_distortion", "irregular", "round"]),
                ),
                (
                    "ASYMMETRIC_BREAST_TISSUE",
                    terms(&["asymmetric_breast_tissue"]),
                ),
                (" OVAL - LYMPH_NODE ", terms(&["lymph_node", "oval"])),
                ("fat containing", terms(&["fat_containing"])),
                ("OVAL-", terms(&["oval"])),
                ("N/A-OVAL", terms(&["oval"])),
                ("-", Missing),
                ("--", Missing),
                ("N/A-N/A", Missing),
                ("OVAL-??", Invalid),
                ("OVAL/ROUND", Invalid),
                ("OVAL-ROUND.", Invalid),
            ],
        );
    }

    #[test]
    fn cbis_shape_flags_cases() {
        let cases: &[(&[&str], bool, &[&str])] = &[
            (&[], false, &[]),
            (&["irregular", "oval"], false, &[]),
            (&["architectural_distortion", "irregular"], true, &[]),
            (&["asymmetric_breast_tissue"], false, &["global"]),
            (&["focal_asymmetric_density"], false, &["focal"]),
            (
                &[
                    "focal_asymmetric_density",
                    "asymmetric_breast_tissue",
                    "architectural_distortion",
                    "asymmetric_breast_tissue",
                ],
                true,
                &["focal", "global"],
            ),
            (&["ARCHITECTURAL_DISTORTION "], true, &[]),
            (&["??", "", "密度"], false, &[]),
        ];
        for (input, distortion, kinds) in cases {
            let input: Vec<String> = input.iter().map(|t| t.to_string()).collect();
            let (got_distortion, got_kinds) = cbis_shape_flags(&input);
            assert_eq!(got_distortion, *distortion, "{input:?}");
            assert_eq!(got_kinds, *kinds, "{input:?}");
        }
        // Straight from a raw CBIS-DDSM field.
        let shape = lexicon_list("IRREGULAR-ASYMMETRIC_BREAST_TISSUE")
            .value()
            .unwrap_or_default();
        assert_eq!(
            cbis_shape_flags(&shape),
            (false, vec!["global".to_string()])
        );
    }

    #[test]
    fn parse_python_list_cases() {
        let cases: &[(&str, Option<&[&str]>)] = &[
            ("['Mass']", Some(&["Mass"])),
            (
                "['Suspicious Calcification', 'Mass']",
                Some(&["Suspicious Calcification", "Mass"]),
            ),
            (
                "\"['Suspicious Calcification', 'Mass']\"",
                Some(&["Suspicious Calcification", "Mass"]),
            ),
            ("[\"Mass\", \"Asymmetry\"]", Some(&["Mass", "Asymmetry"])),
            ("\"[\"\"Mass\"\"]\"", Some(&["Mass"])),
            (
                "  [ 'Nipple Retraction' ,'Mass' ,  'Skin Thickening','Asymmetry' ]  ",
                Some(&["Nipple Retraction", "Mass", "Skin Thickening", "Asymmetry"]),
            ),
            ("['Mass',]", Some(&["Mass"])),
            ("[' Mass ']", Some(&["Mass"])),
            ("['No Finding']", Some(&["No Finding"])),
            ("['it\\'s']", Some(&["it's"])),
            ("[]", Some(&[])),
            ("[ ]", Some(&[])),
            ("", None),
            ("N/A", None),
            ("??", None),
            ("Mass", None),
            ("'Mass'", None),
            ("[Mass]", None),
            ("['Mass'", None),
            ("'Mass']", None),
            ("['Mass]", None),
            ("['Mass' 'Calc']", None),
            ("['Mass'; 'Calc']", None),
            ("[,]", None),
            ("['Mass',,]", None),
            ("['a\\']", None),
            ("\"", None),
            ("[\"密度\"]", Some(&["密度"])),
            ("[🙂]", None),
        ];
        for (raw, expected) in cases {
            let expected = expected.map(|items| items.iter().map(|s| s.to_string()).collect());
            assert_eq!(parse_python_list(raw), expected, "{raw:?}");
        }
        let long = format!("['{}']", "a".repeat(100_000));
        assert_eq!(parse_python_list(&long).map(|v| v[0].len()), Some(100_000));
        assert_eq!(parse_python_list(&"[".repeat(100_000)), None);
        assert_eq!(parse_python_list(&"'".repeat(100_001)), None);
    }

    fn found(finding: Finding) -> Mapped<FindingCategory> {
        Value(FindingCategory::Finding(finding))
    }

    #[test]
    fn vindr_category_names() {
        check(
            vindr_category,
            &[
                ("No Finding", Value(FindingCategory::NoFinding)),
                ("Mass", found(Finding::Mass)),
                ("Suspicious Calcification", found(Finding::Calcification)),
                ("Asymmetry", found(Finding::Asymmetry)),
                ("Focal Asymmetry", found(Finding::FocalAsymmetry)),
                ("Global Asymmetry", found(Finding::GlobalAsymmetry)),
                ("Architectural Distortion", found(Finding::Distortion)),
                ("Skin Thickening", found(Finding::SkinThickening)),
                ("Skin Retraction", found(Finding::SkinRetraction)),
                ("Nipple Retraction", found(Finding::NippleRetraction)),
                ("Suspicious Lymph Node", found(Finding::SuspiciousLymphNode)),
                ("suspicious calcification", found(Finding::Calcification)),
                (" Mass ", found(Finding::Mass)),
                ("Calcification", Invalid),
                ("Lymph Node", Invalid),
                ("['Mass']", Invalid),
            ],
        );
    }

    #[test]
    fn vindr_category_properties() {
        // (name, flag, asymmetry kind, finding, other_findings term)
        type Row = (
            &'static str,
            Option<Flag>,
            Option<&'static str>,
            &'static str,
            Option<&'static str>,
        );
        let rows: &[Row] = &[
            ("Mass", Some(Flag::Mass), None, "mass", None),
            (
                "Suspicious Calcification",
                Some(Flag::Calcification),
                None,
                "calcification",
                None,
            ),
            (
                "Asymmetry",
                Some(Flag::Asymmetry),
                Some("asymmetry"),
                "asymmetry",
                None,
            ),
            (
                "Focal Asymmetry",
                Some(Flag::Asymmetry),
                Some("focal"),
                "focal_asymmetry",
                None,
            ),
            (
                "Global Asymmetry",
                Some(Flag::Asymmetry),
                Some("global"),
                "global_asymmetry",
                None,
            ),
            (
                "Architectural Distortion",
                Some(Flag::Distortion),
                None,
                "distortion",
                None,
            ),
            (
                "Skin Thickening",
                None,
                None,
                "skin_thickening",
                Some("skin_thickening"),
            ),
            (
                "Skin Retraction",
                None,
                None,
                "skin_retraction",
                Some("skin_retraction"),
            ),
            (
                "Nipple Retraction",
                None,
                None,
                "nipple_retraction",
                Some("nipple_retraction"),
            ),
            (
                "Suspicious Lymph Node",
                None,
                None,
                "suspicious_lymph_node",
                Some("suspicious_lymph_node"),
            ),
        ];
        for &(name, flag, kind, finding, other) in rows {
            let category = vindr_category(name)
                .value()
                .and_then(FindingCategory::finding);
            let Some(category) = category else {
                panic!("{name} is a finding");
            };
            assert_eq!(category.flag(), flag, "{name}");
            assert_eq!(category.asymmetry_kind(), kind, "{name}");
            assert_eq!(category.as_str(), finding, "{name}");
            assert_eq!(category.other_findings_term(), other, "{name}");
        }
        assert_eq!(
            vindr_category("No Finding").map(FindingCategory::finding),
            Value(None)
        );
    }

    #[test]
    fn finding_properties_match_the_schemas() {
        let findings = allowed(Table::Findings, "finding");
        let kinds = allowed(Table::Metadata, "asymmetry_kinds");
        assert_eq!(
            Finding::ALL.map(Finding::as_str).to_vec(),
            findings,
            "Finding::ALL follows findings.finding's allowed list"
        );
        assert_allowed(
            Finding::ALL.iter().filter_map(|f| f.asymmetry_kind()),
            &kinds,
        );
        for finding in Finding::ALL {
            // An asymmetry kind exactly when the flag is asymmetry.
            assert_eq!(
                finding.asymmetry_kind().is_some(),
                finding.flag() == Some(Flag::Asymmetry),
                "{finding:?}"
            );
            // An other_findings term only for findings without a flag.
            if finding.other_findings_term().is_some() {
                assert_eq!(finding.flag(), None, "{finding:?}");
            }
        }
        for flag in [
            Flag::Mass,
            Flag::Calcification,
            Flag::Asymmetry,
            Flag::Distortion,
        ] {
            let column = Table::Metadata.schema().column(flag.column());
            assert!(column.is_some(), "metadata.{} exists", flag.column());
        }
    }

    #[test]
    fn mias_class_codes() {
        check(
            mias_class,
            &[
                ("NORM", Value(FindingCategory::NoFinding)),
                ("CALC", found(Finding::Calcification)),
                ("CIRC", found(Finding::Mass)),
                ("SPIC", found(Finding::Mass)),
                ("MISC", found(Finding::Mass)),
                ("ARCH", found(Finding::Distortion)),
                ("ASYM", found(Finding::Asymmetry)),
                ("norm ", Value(FindingCategory::NoFinding)),
                ("CIRCLE", Invalid),
                ("B", Invalid),
            ],
        );
    }

    #[test]
    fn tompei_lesion_labels() {
        check(
            tompei_lesion_label,
            &[
                ("mass", Value(Finding::Mass)),
                ("calc", Value(Finding::Calcification)),
                ("calc ", Value(Finding::Calcification)),
                ("dist", Value(Finding::Distortion)),
                ("FAD", Value(Finding::FocalAsymmetry)),
                ("FA", Value(Finding::Mass)),
                ("lipoma", Value(Finding::Mass)),
                ("Mass", Value(Finding::Mass)),
                // TOMPEI-CMMD's free text also writes `FAD)`.
                ("FAD)", Value(Finding::FocalAsymmetry)),
                ("FADS", Invalid),
                ("calcification", Invalid),
            ],
        );
    }

    #[test]
    fn cmmd_abnormality_values() {
        check(
            cmmd_abnormality,
            &[
                ("mass", Value((true, false))),
                ("calcification", Value((false, true))),
                ("both", Value((true, true))),
                ("Both", Value((true, true))),
                (" MASS ", Value((true, false))),
                ("calc", Invalid),
                ("none", Invalid),
            ],
        );
    }

    #[test]
    fn age_spellings() {
        check(
            age,
            &[
                ("55", Value(55)),
                ("55.0", Value(55)),
                (" 61.0 ", Value(61)),
                ("52.031185", Value(52)),
                ("0", Value(0)),
                ("120", Value(120)),
                ("053Y", Value(53)),
                ("053y", Value(53)),
                ("53Y", Value(53)),
                ("053 Y", Value(53)),
                ("120Y", Value(120)),
                ("600M", Value(50)),
                ("006M", Value(0)),
                ("012W", Value(0)),
                ("104W", Value(1)),
                ("030D", Value(0)),
                ("removed", Missing),
                ("REMOVED", Missing),
                ("121", Invalid),
                ("121Y", Invalid),
                ("999Y", Invalid),
                ("Y", Invalid),
                ("05.3Y", Invalid),
                ("053X", Invalid),
                ("053Y ago", Invalid),
                ("fifty", Invalid),
                ("53 years", Invalid),
                ("5é", Invalid),
                ("inf", Invalid),
                ("-5", Invalid),
                ("-005Y", Invalid),
            ],
        );
    }

    #[test]
    fn boolean_spellings() {
        check(
            boolean,
            &[
                ("1", Value(true)),
                ("0", Value(false)),
                ("1.0", Value(true)),
                ("0.0", Value(false)),
                ("True", Value(true)),
                ("False", Value(false)),
                ("TRUE", Value(true)),
                ("false", Value(false)),
                ("yes", Value(true)),
                ("No", Value(false)),
                ("X", Value(true)),
                ("x", Value(true)),
                ("2", Invalid),
                ("maybe", Invalid),
            ],
        );
    }

    #[test]
    fn source_split_names() {
        check(
            source_split,
            &[
                ("training", Value("train")),
                ("Training", Value("train")),
                ("train", Value("train")),
                ("test", Value("test")),
                ("Test", Value("test")),
                ("testing", Value("test")),
                ("train+test", Value("train+test")),
                ("val", Invalid),
                ("validation", Invalid),
            ],
        );
    }

    #[test]
    fn canonical_values_are_in_the_schemas() {
        fn values(table: &[(&str, &'static str)]) -> Vec<&'static str> {
            table.iter().map(|&(_, value)| value).collect()
        }
        assert_allowed(values(DENSITY_TERMS), &allowed(Table::Metadata, "density"));
        assert_allowed(
            DENSITY_NUMBERS.iter().map(|&(_, v)| v),
            &allowed(Table::Metadata, "density"),
        );
        assert_allowed(
            values(DIAGNOSIS_TERMS),
            &allowed(Table::Metadata, "diagnosis"),
        );
        assert_allowed(
            values(PATHOLOGY_TERMS),
            &allowed(Table::Findings, "pathology"),
        );
        for table in [VIEW_TERMS, VIEW_SNOMED, INBREAST_FILENAME_VIEWS] {
            assert_allowed(values(table), &allowed(Table::Metadata, "view_position"));
            assert_allowed(values(table), &allowed(Table::Findings, "view_position"));
        }
        assert_allowed(
            values(LATERALITY_TERMS),
            &allowed(Table::Metadata, "laterality"),
        );
        assert_allowed(
            values(SPLIT_TERMS),
            &allowed(Table::Metadata, "source_split"),
        );
        assert_allowed(
            CBIS_ASYMMETRY_TERMS.iter().map(|&(_, kind)| kind),
            &allowed(Table::Metadata, "asymmetry_kinds"),
        );
        // Every view in the schema is reachable from its own code.
        for view in allowed(Table::Metadata, "view_position") {
            assert_eq!(view_position(&view), Value(view.as_str()));
        }
    }

    #[test]
    fn table_keys_are_unique_and_nonblank() {
        fn check_keys<T>(name: &str, table: &[(&str, T)]) {
            let keys: Vec<String> = table.iter().map(|(key, _)| squash(key)).collect();
            for (i, key) in keys.iter().enumerate() {
                assert!(!key.is_empty() && !is_missing(key), "{name}: blank key");
                assert!(!keys[..i].contains(key), "{name}: duplicate key {key:?}");
            }
        }
        check_keys("density", DENSITY_TERMS);
        check_keys("birads", BIRADS_SUBCATEGORIES);
        check_keys("diagnosis", DIAGNOSIS_TERMS);
        check_keys("pathology", PATHOLOGY_TERMS);
        check_keys("view", VIEW_TERMS);
        check_keys("snomed", VIEW_SNOMED);
        check_keys("laterality", LATERALITY_TERMS);
        check_keys("vindr", VINDR_CATEGORIES);
        check_keys("mias", MIAS_CLASSES);
        check_keys("tompei", TOMPEI_LESION_LABELS);
        check_keys("cmmd", CMMD_ABNORMALITIES);
        check_keys("boolean", BOOLEAN_TERMS);
        check_keys("split", SPLIT_TERMS);
        check_keys("synonyms", LEXICON_SYNONYMS);
        // Synonym keys are in the form lexicon_term produces.
        for (spelling, canonical) in LEXICON_SYNONYMS {
            assert_eq!(lexicon_term(spelling).as_deref(), Some(*canonical));
        }
    }
}
