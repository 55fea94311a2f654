// Swagger UI for /docs (only when the api_docs setting is on), from the assets of the
// swagger-ui-bundle package served under /docs/assets: no CDN, no inline script.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
