//! AI assist: what the task's assistant user's annotations (its predictions) on one input do.
//! A prediction's score is the lowest `value` of the concepts it asserts; below
//! `min_threshold` it is not shown to workers, and when every shown prediction on the input
//! scores at least `max_threshold`, they are the input's final label while no worker has
//! submitted it. Pure, as [`super::replay`] which calls it; docs/export.md ("AI assist") states
//! the rule.

use super::annotation::{Annotation, Data};
use crate::model::Task;

/// A prediction's score: the lowest `value` of the concepts it asserts, its own and its
/// regions'. A concept with value 0 says it is absent and scores nothing; a prediction that
/// asserts no concept has no score.
pub fn score(annotation: &Annotation) -> Option<f64> {
    fn lowest(data: &Data) -> Option<f32> {
        let own = data.concepts.iter().map(|c| c.value).filter(|v| *v > 0.0);
        let regions = data.regions.iter().filter_map(|r| lowest(&r.data));
        own.chain(regions).reduce(f32::min)
    }
    // The value as written (`0.95`), not the float nearest to it (0.949999988...), which
    // would fall below a threshold of 0.95.
    lowest(&annotation.data).map(|v| v.to_string().parse().unwrap_or(f64::from(v)))
}

/// What the assistant's predictions on one input come to.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict<'a> {
    /// The predictions shown to workers as a starting point, with their scores.
    pub shown: Vec<(&'a Annotation, Option<f64>)>,
    /// The score that makes the shown predictions the input's final label (at least
    /// `max_threshold`), when they are.
    pub approves: Option<f64>,
    /// Why, for `explain`.
    pub story: Vec<String>,
}

/// Judges the assistant's current predictions on an input (any order) under `task`'s
/// `ai_assist_params`. Whether a worker's submission overrules it is the replay's to say.
pub fn judge<'a>(task: &Task, predictions: &[&'a Annotation]) -> Verdict<'a> {
    let (min, max) = task.assist_thresholds();
    let assistant = task.assistant().unwrap_or_default();
    let mut verdict = Verdict {
        shown: Vec::new(),
        approves: None,
        story: Vec::new(),
    };
    for annotation in predictions {
        let score = score(annotation);
        let said = match score {
            Some(s) => format!("scores {s}"),
            None => "asserts no concept, so has no score".to_owned(),
        };
        let hidden = match (score, min) {
            (Some(s), Some(min)) if s < min => Some(min),
            _ => None,
        };
        let what = format!("{assistant}'s prediction `{}` {said}", annotation.id);
        match hidden {
            Some(min) => verdict.story.push(format!(
                "{what} < min_threshold {min}: it is not shown to workers"
            )),
            None => {
                verdict.story.push(format!(
                    "{what}: it is shown to workers as a starting point"
                ));
                verdict.shown.push((annotation, score));
            }
        }
    }
    let Some(max) = max else {
        return verdict;
    };
    let lowest = verdict
        .shown
        .iter()
        .map(|(_, s)| *s)
        .reduce(|a, b| Some(a?.min(b?)))
        .flatten();
    match lowest {
        Some(s) if s >= max => verdict.approves = Some(s),
        Some(s) => verdict.story.push(format!(
            "the assistant's prediction scores {s} < max_threshold {max}: workers label the input"
        )),
        None if verdict.shown.is_empty() => {}
        None => verdict.story.push(format!(
            "a prediction without a score never reaches max_threshold {max}: workers label the input"
        )),
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(params: &str) -> Task {
        let yaml = format!(
            "type: BOUNDING_BOX_DETECTION\nconcept_ids: [cat, dog]\ninput_source: {{type: ALL_INPUTS}}\n\
             worker: {{strategy: FULL, user_ids: [ann]}}\nai_assistant: {{workflow: {{id: model}}}}\n{params}"
        );
        let doc = crate::yaml::parse_task(yaml.as_bytes()).unwrap();
        crate::validate::validate(doc, Some("t")).0.unwrap()
    }

    /// A prediction with a classification concept of `own` (if any) and a region per value.
    fn prediction(id: &str, own: Option<f32>, regions: &[f32]) -> Annotation {
        let concept = |v: f32| serde_json::json!({"id": "cat", "value": v});
        let regions: Vec<_> = regions
            .iter()
            .map(|v| {
                serde_json::json!({"region_info": {"bounding_box":
                {"top_row": 0.1, "left_col": 0.1, "bottom_row": 0.5, "right_col": 0.5}},
                "data": {"concepts": [concept(*v)]}})
            })
            .collect();
        let concepts: Vec<_> = own.into_iter().map(concept).collect();
        serde_json::from_value(serde_json::json!({"id": id, "input_id": "in",
            "data": {"concepts": concepts, "regions": regions}}))
        .unwrap()
    }

    #[test]
    fn the_score_is_the_lowest_asserted_value() {
        #[track_caller]
        fn check(own: Option<f32>, regions: &[f32], expected: Option<f64>) {
            assert_eq!(score(&prediction("p", own, regions)), expected);
        }
        check(Some(0.97), &[], Some(0.97));
        check(None, &[0.9, 0.95, 0.6], Some(0.6));
        check(Some(0.8), &[0.95], Some(0.8));
        check(Some(0.0), &[0.95], Some(0.95));
        check(None, &[], None);
        check(Some(0.0), &[], None);
        // As written, not the nearest float below it.
        check(None, &[0.95], Some(0.95));
    }

    /// `params` (YAML lines), predictions as (own value, region values): the ids shown and the
    /// approving score.
    #[track_caller]
    fn check(
        params: &str,
        predictions: &[(Option<f32>, &[f32])],
        shown: &str,
        approves: Option<f64>,
    ) {
        let task = task(params);
        let made: Vec<Annotation> = predictions
            .iter()
            .enumerate()
            .map(|(i, (own, regions))| prediction(&format!("p{i}"), *own, regions))
            .collect();
        let refs: Vec<&Annotation> = made.iter().collect();
        let verdict = judge(&task, &refs);
        let got: Vec<&str> = verdict.shown.iter().map(|(a, _)| a.id.as_str()).collect();
        assert_eq!(got.join(" "), shown, "{:#?}", verdict.story);
        assert_eq!(verdict.approves, approves, "{:#?}", verdict.story);
    }

    #[test]
    fn thresholds() {
        let both = "ai_assist_params: {min_threshold: 0.3, max_threshold: 0.95}\n";
        // No params: every prediction is shown, none decides.
        check("", &[(None, &[0.99])], "p0", None);
        check("", &[(None, &[0.01])], "p0", None);
        // At, above and below max_threshold.
        check(both, &[(None, &[0.95])], "p0", Some(0.95));
        check(both, &[(None, &[0.97, 0.99])], "p0", Some(0.97));
        check(both, &[(None, &[0.97, 0.94])], "p0", None);
        check(
            both,
            &[(Some(0.96), &[]), (None, &[0.98])],
            "p0 p1",
            Some(0.96),
        );
        check(both, &[(Some(0.96), &[]), (None, &[0.5])], "p0 p1", None);
        // Below min_threshold: not shown, and not part of the input's label.
        check(both, &[(None, &[0.2])], "", None);
        check(both, &[(None, &[0.29]), (None, &[0.99])], "p1", Some(0.99));
        check(both, &[(None, &[0.3])], "p0", None);
        // Only a minimum: hides, never decides.
        check(
            "ai_assist_params: {min_threshold: 0.5}\n",
            &[(None, &[0.4]), (None, &[0.99])],
            "p1",
            None,
        );
        // max_threshold 0 is off.
        check(
            "ai_assist_params: {max_threshold: 0}\n",
            &[(None, &[0.99])],
            "p0",
            None,
        );
        // No score: shown, never decides.
        check(both, &[(None, &[])], "p0", None);
        check(both, &[(None, &[]), (None, &[0.99])], "p0 p1", None);
    }
}
