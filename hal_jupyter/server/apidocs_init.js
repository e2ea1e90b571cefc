// Starts Swagger UI on the hal-jupyter API docs page (GET /hal/api/docs, hal_jupyter/server/apidocs.py).
// The page gives the OpenAPI document's URL (under the server's base_url) as data-openapi-url.
(function () {
  "use strict";

  // As JupyterLab's ServerConnection (Tornado's XSRF guide: the cookie's value goes in X-XSRFToken)
  function getCookie(name) {
    var matches = document.cookie.match("\\b" + name + "=([^;]*)\\b");
    return matches ? matches[1] : undefined;
  }

  function sameOrigin(url) {
    return new URL(url, document.baseURI).origin === window.location.origin;
  }

  // Requests to this server carry the login cookie and, for POST, the XSRF header
  // jupyter_server asks of cookie-authenticated requests. Nothing goes anywhere else.
  function requestInterceptor(request) {
    if (sameOrigin(request.url)) {
      request.credentials = "same-origin";
      var xsrf = getCookie("_xsrf");
      if (xsrf) {
        request.headers = request.headers || {};
        request.headers["X-XSRFToken"] = xsrf;
      }
    }
    return request;
  }

  window.ui = SwaggerUIBundle({
    url: document.currentScript.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "BaseLayout",
    validatorUrl: null, // offline: no badge from validator.swagger.io
    withCredentials: false, // fetch's "same-origin": the cookie goes to this server only
    requestInterceptor: requestInterceptor,
  });
})();
