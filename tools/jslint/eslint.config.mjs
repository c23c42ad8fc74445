// ESLint for the dashboard's page, as strict as ruff is for the Python: the recommended rules, every
// unused name, == only as ===, and no name that is neither declared nor a browser global (plotly.js
// comes as the global Plotly).
import js from "@eslint/js";
import globals from "globals";

export default [
  js.configs.recommended,
  {
    files: ["**/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "script",
      globals: { ...globals.browser, Plotly: "readonly" },
    },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      "no-unused-vars": ["error", { vars: "all", args: "after-used", caughtErrors: "all" }],
      eqeqeq: ["error", "always"],
      "no-undef": "error",
      "no-var": "error",
      "prefer-const": "error",
      strict: ["error", "global"],
    },
  },
];
