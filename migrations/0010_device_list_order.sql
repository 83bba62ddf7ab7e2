-- The admin device list (docs/admin-api.md, "Devices") pages in SQL: each platform keeps the name
-- the list shows as a virtual column, indexed in the list's order (name case-insensitive, then id),
-- so a page is an index walk instead of reading and sorting every device. The expressions are the
-- ones src/admin/fleets.ts computes in JS (appleDetail, androidDetail); test/admin/device-pages
-- checks they agree. NOCASE folds ASCII letters only, as the list's comparator does.

-- Apple: DeviceName, else "<model name> <serial>" (src/admin/fleets.ts appleDetail).
ALTER TABLE apple_devices ADD COLUMN display_name TEXT GENERATED ALWAYS AS (
  coalesce(device_name, coalesce(model_name, product_name, 'Apple device') || ' ' || coalesce(serial_number, substr(id, 1, 8)))
) VIRTUAL;
CREATE INDEX apple_devices_display_name ON apple_devices (display_name COLLATE NOCASE, id);

-- Android: model, serial number and manufacturer as the agent reported them (non-empty strings
-- only; the status report's model first), then the name "[<maker> ]<model> <serial>".
ALTER TABLE android_devices ADD COLUMN model_name TEXT GENERATED ALWAYS AS (
  CASE
    WHEN json_type(status, '$.model') = 'text' AND json_extract(status, '$.model') <> '' THEN json_extract(status, '$.model')
    WHEN json_type(facts, '$.model') = 'text' AND json_extract(facts, '$.model') <> '' THEN json_extract(facts, '$.model')
  END
) VIRTUAL;
ALTER TABLE android_devices ADD COLUMN serial_number TEXT GENERATED ALWAYS AS (
  CASE WHEN json_type(facts, '$.serialNumber') = 'text' AND json_extract(facts, '$.serialNumber') <> '' THEN json_extract(facts, '$.serialNumber') END
) VIRTUAL;
ALTER TABLE android_devices ADD COLUMN manufacturer TEXT GENERATED ALWAYS AS (
  CASE WHEN json_type(facts, '$.manufacturer') = 'text' AND json_extract(facts, '$.manufacturer') <> '' THEN json_extract(facts, '$.manufacturer') END
) VIRTUAL;
ALTER TABLE android_devices ADD COLUMN display_name TEXT GENERATED ALWAYS AS (
  CASE WHEN manufacturer IS NOT NULL AND model_name IS NOT NULL AND substr(lower(model_name), 1, length(manufacturer)) <> lower(manufacturer)
       THEN manufacturer || ' ' ELSE '' END
  || coalesce(model_name, 'Android device') || ' ' || coalesce(serial_number, substr(id, 1, 8))
) VIRTUAL;
CREATE INDEX android_devices_display_name ON android_devices (display_name COLLATE NOCASE, id);
