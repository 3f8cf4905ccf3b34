-- A CHECK written `col IN ('a', 'b', ...)` costs every INSERT and UPDATE of its table a
-- temporary B-tree: SQLite builds the list into an ephemeral index each time the statement
-- runs, then probes it. On `/twilio/voice` that was five temporary B-trees for the call
-- row and two for its ledger row: a quarter of the database writer's time. The same
-- constraint written `(col = 'a' OR col = 'b' ...)` is a few comparisons.
--
-- SQLite cannot alter a CHECK in place; its documented way to change one without
-- rebuilding the table is to edit the table's stored definition (`writable_schema`). Each
-- replacement below turns one IN list into the equivalent OR of equalities, so every
-- stored row satisfies the new constraint exactly when it satisfied the old one, and a
-- definition that does not contain the expected text is left as it was. RESET makes this
-- connection read the new definitions again (a later migration's ALTER TABLE works from
-- them), and the DROP INDEX at the end changes the schema, which makes every other
-- connection read them.
PRAGMA writable_schema = ON;

UPDATE sqlite_schema SET sql = replace(sql,
    'is_demo IN (0, 1)',
    '(is_demo = 0 OR is_demo = 1)')
WHERE type = 'table' AND name = 'orgs';

UPDATE sqlite_schema SET sql = replace(replace(sql,
    'role IN (''owner'', ''admin'', ''viewer'')',
    '(role = ''owner'' OR role = ''admin'' OR role = ''viewer'')'),
    'is_system_admin IN (0, 1)',
    '(is_system_admin = 0 OR is_system_admin = 1)')
WHERE type = 'table' AND name = 'users';

UPDATE sqlite_schema SET sql = replace(sql,
    'enabled_globally IN (0, 1)',
    '(enabled_globally = 0 OR enabled_globally = 1)')
WHERE type = 'table' AND name = 'feature_flags';

UPDATE sqlite_schema SET sql = replace(sql,
    'enabled IN (0, 1)',
    '(enabled = 0 OR enabled = 1)')
WHERE type = 'table' AND name = 'org_feature_overrides';

UPDATE sqlite_schema SET sql = replace(replace(replace(replace(sql,
    'provider IN (''twilio'', ''vapi'')',
    '(provider = ''twilio'' OR provider = ''vapi'')'),
    'kind IN (''master'', ''subaccount'', ''api_key'')',
    '(kind = ''master'' OR kind = ''subaccount'' OR kind = ''api_key'')'),
    'is_managed IN (0, 1)',
    '(is_managed = 0 OR is_managed = 1)'),
    'status IN (''active'', ''closed'')',
    '(status = ''active'' OR status = ''closed'')')
WHERE type = 'table' AND name = 'provider_accounts';

UPDATE sqlite_schema SET sql = replace(replace(replace(replace(sql,
    'role IN (''operational'', ''onboarding'', ''system'')',
    '(role = ''operational'' OR role = ''onboarding'' OR role = ''system'')'),
    'handler IN (''ivr'', ''vapi'')',
    '(handler = ''ivr'' OR handler = ''vapi'')'),
    'origin IN (''managed'', ''imported'', ''manual'')',
    '(origin = ''managed'' OR origin = ''imported'' OR origin = ''manual'')'),
    'status IN (''active'', ''released'')',
    '(status = ''active'' OR status = ''released'')')
WHERE type = 'table' AND name = 'phone_numbers';

UPDATE sqlite_schema SET sql = replace(replace(replace(replace(replace(replace(sql,
    'provider IN (''twilio'', ''vapi'')',
    '(provider = ''twilio'' OR provider = ''vapi'')'),
    'direction IN (''inbound'', ''outbound'', ''web'')',
    '(direction = ''inbound'' OR direction = ''outbound'' OR direction = ''web'')'),
    'number_role IN (''operational'', ''onboarding'', ''system'')',
    '(number_role = ''operational'' OR number_role = ''onboarding'' OR number_role = ''system'')'),
    'outcome IN
                             (''connected'', ''voicemail'', ''missed'', ''abandoned'', ''rejected'', ''ai_handled'', ''failed'')',
    '(outcome = ''connected'' OR outcome = ''voicemail'' OR outcome = ''missed'' OR outcome = ''abandoned'' OR outcome = ''rejected'' OR outcome = ''ai_handled'' OR outcome = ''failed'')'),
    'consent_outcome IN
                             (''not_asked'', ''announced'', ''granted'', ''declined'', ''error'')',
    '(consent_outcome = ''not_asked'' OR consent_outcome = ''announced'' OR consent_outcome = ''granted'' OR consent_outcome = ''declined'' OR consent_outcome = ''error'')'),
    'textback_state IN
                             (''scheduled'', ''processing'', ''sent'', ''blocked'', ''skipped'')',
    '(textback_state = ''scheduled'' OR textback_state = ''processing'' OR textback_state = ''sent'' OR textback_state = ''blocked'' OR textback_state = ''skipped'')')
WHERE type = 'table' AND name = 'calls';

UPDATE sqlite_schema SET sql = replace(replace(sql,
    'transcription_status IN (''pending'', ''completed'', ''failed'', ''absent'')',
    '(transcription_status = ''pending'' OR transcription_status = ''completed'' OR transcription_status = ''failed'' OR transcription_status = ''absent'')'),
    'handled IN (0, 1)',
    '(handled = 0 OR handled = 1)')
WHERE type = 'table' AND name = 'voicemails';

UPDATE sqlite_schema SET sql = replace(replace(sql,
    'source IN (''sms'', ''vapi'', ''manual'')',
    '(source = ''sms'' OR source = ''vapi'' OR source = ''manual'')'),
    'status IN (''open'', ''handled'')',
    '(status = ''open'' OR status = ''handled'')')
WHERE type = 'table' AND name = 'leads';

UPDATE sqlite_schema SET sql = replace(replace(sql,
    'direction IN (''inbound'', ''outbound'')',
    '(direction = ''inbound'' OR direction = ''outbound'')'),
    'kind IN (''textback'', ''onboarding'', ''intake'', ''notification'', ''reply'')',
    '(kind = ''textback'' OR kind = ''onboarding'' OR kind = ''intake'' OR kind = ''notification'' OR kind = ''reply'')')
WHERE type = 'table' AND name = 'messages';

UPDATE sqlite_schema SET sql = replace(sql,
    'state IN
                        (''greeted'', ''name_received'', ''pending_approval'', ''approved'', ''rejected'', ''cancelled'')',
    '(state = ''greeted'' OR state = ''name_received'' OR state = ''pending_approval'' OR state = ''approved'' OR state = ''rejected'' OR state = ''cancelled'')')
WHERE type = 'table' AND name = 'onboarding_requests';

UPDATE sqlite_schema SET sql = replace(replace(sql,
    'provider IN (''twilio'', ''vapi'')',
    '(provider = ''twilio'' OR provider = ''vapi'')'),
    'signature IN (''valid'', ''invalid'', ''missing'', ''skipped'')',
    '(signature = ''valid'' OR signature = ''invalid'' OR signature = ''missing'' OR signature = ''skipped'')')
WHERE type = 'table' AND name = 'webhook_ledger';

UPDATE sqlite_schema SET sql = replace(sql,
    'state IN (''in_progress'', ''completed'')',
    '(state = ''in_progress'' OR state = ''completed'')')
WHERE type = 'table' AND name = 'idempotency_keys';

UPDATE sqlite_schema SET sql = replace(sql,
    'state IN (''running'', ''compensating'', ''completed'', ''compensated'', ''failed'')',
    '(state = ''running'' OR state = ''compensating'' OR state = ''completed'' OR state = ''compensated'' OR state = ''failed'')')
WHERE type = 'table' AND name = 'sagas';

UPDATE sqlite_schema SET sql = replace(replace(sql,
    'phase IN (''action'', ''compensation'')',
    '(phase = ''action'' OR phase = ''compensation'')'),
    'state IN (''started'', ''succeeded'', ''failed'', ''skipped'')',
    '(state = ''started'' OR state = ''succeeded'' OR state = ''failed'' OR state = ''skipped'')')
WHERE type = 'table' AND name = 'saga_steps';

PRAGMA writable_schema = RESET;

-- No query reads the ledger by Twilio's idempotency token (the column stays, to match a
-- redelivery up by eye); its index cost every real Twilio webhook a random-key index write.
DROP INDEX webhook_ledger_key;
