using System.Net;

namespace Switchboard.Identity.Tests;

/// <summary>The sign-in and sign-up pages and the operator API's guard.</summary>
public abstract class SignInTests(IdentityServer server)
{
    private const string Password = "correct horse battery";

    [Fact]
    public async Task An_account_locks_after_five_wrong_passwords_and_then_refuses_the_right_one()
    {
        var userName = "locked-" + Guid.NewGuid().ToString("N")[..8];
        await server.CreateUserAsync(userName, Password);
        using var browser = server.Browser();

        for (var i = 1; i <= 4; i++)
        {
            using var wrong = await browser.SubmitFormAsync("/identity/signin", new() { ["UserName"] = userName, ["Password"] = "wrong password " + i });
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }
        using var fifth = await browser.SubmitFormAsync("/identity/signin", new() { ["UserName"] = userName, ["Password"] = "wrong password 5" });
        Assert.Equal((HttpStatusCode)423, fifth.StatusCode);

        using var right = await browser.SubmitFormAsync("/identity/signin", new() { ["UserName"] = userName, ["Password"] = Password });
        Assert.Equal((HttpStatusCode)423, right.StatusCode);
        Assert.Contains("locked", await right.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_sign_in_post_without_the_antiforgery_token_is_refused()
    {
        var userName = "csrf-" + Guid.NewGuid().ToString("N")[..8];
        await server.CreateUserAsync(userName, Password);
        using var browser = server.Browser();

        using var response = await browser.Http.PostAsync(new Uri("/identity/signin", UriKind.Relative),
            new FormUrlEncodedContent(new Dictionary<string, string> { ["UserName"] = userName, ["Password"] = Password }));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Theory]
    [InlineData("https://evil.example/")]
    [InlineData("//evil.example/")]
    [InlineData("/\\evil.example/")]
    public async Task Sign_in_never_redirects_off_site(string returnUrl)
    {
        var userName = "redirect-" + Guid.NewGuid().ToString("N")[..8];
        await server.CreateUserAsync(userName, Password);
        using var browser = server.Browser();

        using var response = await browser.SubmitFormAsync("/identity/signin?ReturnUrl=" + Uri.EscapeDataString(returnUrl),
            new() { ["UserName"] = userName, ["Password"] = Password });

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/", response.Headers.Location!.OriginalString);
    }

    [Fact]
    public async Task A_short_password_is_refused_at_sign_up()
    {
        using var browser = server.Browser();

        using var response = await browser.SubmitFormAsync("/identity/signup", new() { ["UserName"] = "short-" + Guid.NewGuid().ToString("N")[..8], ["Password"] = "abc" });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task The_operator_api_needs_the_api_key()
    {
        using var http = new HttpClient { BaseAddress = server.BaseAddress };

        using var users = await http.PostAsync("/api/identity/users", IdentityServer.Json(new { username = "nobody-x", password = Password }));
        using var clients = await http.PostAsync("/api/identity/clients", IdentityServer.Json(new { client_id = "nobody-x" }));

        Assert.Equal(HttpStatusCode.Unauthorized, users.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, clients.StatusCode);
    }
}

/// <summary>With SQLite (the embedded default).</summary>
[Collection(IdentityCollection.Name)]
public sealed class SqliteSignInTests(IdentityServer server) : SignInTests(server);

/// <summary>With a real PostgreSQL server.</summary>
[Collection(PostgresIdentityCollection.Name)]
public sealed class PostgresSignInTests(PostgresIdentityServer server) : SignInTests(server);
