/**
 * One wa_churn customer as a caller of the published churn app sends it (the first row of the
 * shipped CSV, without the target). Shared by the API, explanation and serving tests and the
 * serving benchmark, so they all exercise the same record.
 */
export const CHURN_RECORD = {
  female: 1,
  senior_citizen: 0,
  partner: 1,
  dependents: 0,
  tenure: 1,
  phone_service: 0,
  multiple_lines: "No phone service",
  internet_service: "DSL",
  online_security: "No",
  online_backup: "Yes",
  device_protection: "No",
  tech_support: "No",
  streaming_tv: "No",
  streaming_movies: "No",
  contract: "Month-to-month",
  paperless_billing: 1,
  payment_method: "Electronic check",
  monthly_charges: 29.85,
  total_charges: 29.85,
} as const;
