-- Traces whose spans arrive over several requests (OTLP and the SDK wire formats) are found
-- again by the id their source gave them, within their project.
ALTER TABLE traces ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX traces_external ON traces (project_id, external_id)
    WHERE external_id IS NOT NULL;
