namespace Switchboard.Auth;

/// <summary>
/// Names of the server's HTTP rate-limiting policies (ASP.NET Core rate limiting), for endpoints
/// to apply with <c>RequireRateLimiting(RateLimitPolicies.Token)</c>. Each is a fixed window
/// configured under <c>Switchboard:RateLimits</c>; a refused request gets 429 with <c>Retry-After</c>.
/// </summary>
public static class RateLimitPolicies
{
    /// <summary>The server API: per remote IP, with a far smaller budget for calls without a valid key.</summary>
    public const string Api = "switchboard-api";

    /// <summary>Sign-in and sign-up: per remote IP and OAuth client id (when the request names one).</summary>
    public const string SignIn = "switchboard-sign-in";

    /// <summary>The OAuth token endpoint: per remote IP and OAuth client id (when the request names one).</summary>
    public const string Token = "switchboard-token";

    /// <summary>Long polls (<c>POST /connection/long_poll</c>): per remote IP.</summary>
    public const string LongPoll = "switchboard-long-poll";
}
