using System.Net;

namespace Switchboard.Identity.Tests;

/// <summary>The sign-in and token endpoints are rate limited by address (issue 6, item 7).</summary>
public sealed class RateLimitTests : OwnIdentityServer
{
    // Windows far longer than the test: only the permit counts matter, no clock does.
    protected override string[] ExtraArguments =>
    [
        "--Switchboard:RateLimits:SignIn:PermitLimit=3",
        "--Switchboard:RateLimits:SignIn:Window=01:00:00",
        "--Switchboard:RateLimits:Token:PermitLimit=2",
        "--Switchboard:RateLimits:Token:Window=01:00:00",
    ];

    [Fact]
    public async Task Password_guessing_on_the_sign_in_page_is_cut_off_with_429()
    {
        using var browser = new Browser(Server.BaseAddress);
        for (var i = 0; i < 3; i++)
        {
            using var wrong = await browser.SubmitFormAsync("/identity/signin", new() { ["UserName"] = "nobody", ["Password"] = "guess " + i });
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }
        using var limited = await browser.SubmitFormAsync("/identity/signin", new() { ["UserName"] = "nobody", ["Password"] = "guess 4" });
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.NotNull(limited.Headers.RetryAfter);
    }

    [Fact]
    public async Task Client_secret_guessing_on_the_token_endpoint_is_cut_off_with_429()
    {
        using var browser = new Browser(Server.BaseAddress);
        for (var i = 0; i < 2; i++)
        {
            var (status, _) = await browser.TokenAsync(new() { ["grant_type"] = "client_credentials", ["client_id"] = "bot", ["client_secret"] = "guess " + i });
            Assert.NotEqual(HttpStatusCode.TooManyRequests, status);
        }
        using var limited = await browser.Http.PostAsync(new Uri("/connect/token", UriKind.Relative), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = "bot",
            ["client_secret"] = "guess 3",
        }));
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.NotNull(limited.Headers.RetryAfter);
    }
}
