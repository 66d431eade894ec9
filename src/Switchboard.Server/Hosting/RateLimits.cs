using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using Switchboard.Auth;
using Switchboard.Channels;
using Switchboard.Protocol;
using Switchboard.Server.Api;

namespace Switchboard.Server.Hosting;

/// <summary>
/// The <see cref="RateLimitPolicies"/>: fixed windows per client, as configured under
/// <c>Switchboard:RateLimits</c>. Fixed windows are cheap, predictable for clients
/// (<c>Retry-After</c> is exact) and deterministic in tests.
/// </summary>
internal static class RateLimits
{
    public static void AddSwitchboardRateLimits(this IServiceCollection services)
    {
        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<SwitchboardOptions>>((limiter, sb) =>
        {
            var limits = sb.Value.RateLimits;
            var apiKey = sb.Value.Api.Key;
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.OnRejected = OnRejectedAsync;
            limiter.AddPolicy(RateLimitPolicies.Api, http =>
            {
                // A caller with the key gets the API's budget; guesses share a small one per address.
                var authorized = Switchboard.Auth.ApiKey.Matches(http.Request, apiKey);
                return Partition((authorized ? "key|" : "nokey|") + RemoteAddress(http), authorized ? limits.Api : limits.ApiUnauthorized);
            });
            limiter.AddPolicy(RateLimitPolicies.SignIn, http => Partition(RemoteAddress(http) + "|" + ClientId(http), limits.SignIn));
            limiter.AddPolicy(RateLimitPolicies.Token, http => Partition(RemoteAddress(http) + "|" + ClientId(http), limits.Token));
            limiter.AddPolicy(RateLimitPolicies.LongPoll, http => Partition(RemoteAddress(http), limits.LongPoll));
        });
    }

    private static RateLimitPartition<string> Partition(string key, RateLimitRule rule)
        => rule.PermitLimit == 0
            ? RateLimitPartition.GetNoLimiter(key)
            : RateLimitPartition.GetFixedWindowLimiter(key, _ => new FixedWindowRateLimiterOptions
            {
                PermitLimit = rule.PermitLimit,
                Window = rule.Window,
                QueueLimit = 0, // refuse at once: a queued sign-in only holds a connection open
                AutoReplenishment = true,
            });

    private static string RemoteAddress(HttpContext http) => http.Connection.RemoteIpAddress?.ToString() ?? "";

    // The OAuth client a request names: HTTP Basic client authentication, a client_id query
    // parameter (authorize), or a client_id form field when the form was already read (an OAuth
    // server reads it before endpoints run). Never reads the body itself.
    private static string ClientId(HttpContext http)
    {
        if (AuthenticationHeaderValue.TryParse(http.Request.Headers.Authorization, out var auth)
            && string.Equals(auth.Scheme, "Basic", StringComparison.OrdinalIgnoreCase) && auth.Parameter is { } parameter)
        {
            try
            {
                var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(parameter));
                var colon = decoded.IndexOf(':', StringComparison.Ordinal);
                return Uri.UnescapeDataString(colon < 0 ? decoded : decoded[..colon]);
            }
            catch (FormatException)
            {
                return "";
            }
        }
        if (http.Request.Query.TryGetValue("client_id", out var query))
        {
            return query.ToString();
        }
        return http.Features.Get<IFormFeature>()?.Form?["client_id"].ToString() ?? "";
    }

    private static async ValueTask OnRejectedAsync(OnRejectedContext context, CancellationToken ct)
    {
        var response = context.HttpContext.Response;
        if (context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter))
        {
            response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        }
        if (context.HttpContext.Request.Path.StartsWithSegments("/api") || context.HttpContext.Request.Path.StartsWithSegments(Transports.LongPollEndpoint.Path))
        {
            // The API's envelope, with the HTTP status kept (429): clients back off on it.
            response.ContentType = "application/json";
            await response.WriteAsync(
                $"{{\"error\":{{\"code\":{ErrorCodes.TooManyRequests},\"message\":\"too many requests\",\"temporary\":true}}}}", ct).ConfigureAwait(false);
        }
    }
}
