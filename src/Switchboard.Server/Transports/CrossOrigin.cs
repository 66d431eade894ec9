using Microsoft.Net.Http.Headers;
using Switchboard.Auth;

namespace Switchboard.Server.Transports;

/// <summary>
/// CORS for the HTTP client transports (HTTP-streaming, SSE, emulation, long polling): a browser page of an
/// allowed origin (see <see cref="OriginList"/>) may call them with credentials; any other origin
/// is refused with 403 before anything is opened, preflight included.
/// </summary>
internal static class CrossOrigin
{
    /// <summary>
    /// Checks the origin and answers what the request needs before the endpoint's own work:
    /// 403 for a refused origin, 204 for a preflight, 405 for a method not in
    /// <paramref name="methods"/>. Returns true when the endpoint should go on.
    /// </summary>
    public static bool Admit(HttpContext context, OriginList origins, string methods)
    {
        if (!context.IsOriginAllowed(origins))
        {
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            return false;
        }
        AllowOrigin(context);
        if (HttpMethods.IsOptions(context.Request.Method))
        {
            var headers = context.Response.Headers;
            headers.AccessControlAllowMethods = methods + ", OPTIONS";
            var requested = context.Request.Headers.AccessControlRequestHeaders;
            headers.AccessControlAllowHeaders = requested.Count > 0 ? requested : (Microsoft.Extensions.Primitives.StringValues)HeaderNames.ContentType;
            headers.AccessControlMaxAge = "300";
            context.Response.StatusCode = StatusCodes.Status204NoContent;
            return false;
        }
        if (!methods.Split(", ").Contains(context.Request.Method, StringComparer.OrdinalIgnoreCase))
        {
            context.Response.Headers.Allow = methods + ", OPTIONS";
            context.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            return false;
        }
        return true;
    }

    /// <summary>The origin was allowed: names it in the answer (a credentialed request may not get <c>*</c>).</summary>
    public static void AllowOrigin(HttpContext context)
    {
        var origin = context.Request.Headers.Origin;
        var headers = context.Response.Headers;
        headers.Vary = HeaderNames.Origin;
        if (origin.Count == 1)
        {
            headers.AccessControlAllowOrigin = origin;
            headers.AccessControlAllowCredentials = "true";
        }
    }
}
