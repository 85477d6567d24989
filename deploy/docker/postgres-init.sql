-- One database per service: each service owns its store (same names as deploy/local/vafactl).
CREATE DATABASE vafa_ingest;
CREATE DATABASE vafa_points;
CREATE DATABASE vafa_tiers;
CREATE DATABASE vafa_notify;
CREATE DATABASE vafa_analytics;
