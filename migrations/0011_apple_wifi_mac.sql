-- The NAC asks by Wi-Fi MAC: a point look-up of an Apple device by the WiFiMAC it reported
-- (DeviceInformation, kept in facts) instead of a scan of every device's facts.
CREATE INDEX apple_devices_wifi_mac ON apple_devices (lower(json_extract(facts, '$.wifiMac')));
