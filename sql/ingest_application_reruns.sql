-- application_reruns: the forward links (`_embedded.reruns[]`) of each application's winning snapshot,
-- evidence rule 2 of rerun_edges. Input: `winners`.
SELECT DISTINCT
    journey_application_token,
    r.next_journey_application_token AS next_journey_application_token,
    r.initiated_by AS initiated_by,
    epoch_ms(r.created_at)::TIMESTAMPTZ AS created_at
FROM (SELECT journey_application_token, unnest(reruns) AS r FROM winners)
ORDER BY journey_application_token, created_at NULLS LAST, next_journey_application_token
