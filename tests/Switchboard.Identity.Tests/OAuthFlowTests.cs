using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Switchboard.Auth;

namespace Switchboard.Identity.Tests;

/// <summary>The OAuth 2.0 / OIDC flows end to end over HTTP against the real in-process server.</summary>
public abstract class OAuthFlowTests(IdentityServer server)
{
    private const string Password = "correct horse battery";

    private static string NewUserName() => "user-" + Guid.NewGuid().ToString("N")[..10];

    [Fact]
    public async Task Discovery_names_the_endpoints_and_only_the_safe_grants()
    {
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        using var doc = JsonDocument.Parse(await http.GetStringAsync(new Uri("/.well-known/openid-configuration", UriKind.Relative)));
        var root = doc.RootElement;
        var issuer = root.GetProperty("issuer").GetString()!;
        Assert.Equal(new Uri(server.BaseAddress, "/").AbsoluteUri, issuer);
        Assert.Equal(issuer + "connect/authorize", root.GetProperty("authorization_endpoint").GetString());
        Assert.Equal(issuer + "connect/token", root.GetProperty("token_endpoint").GetString());
        Assert.Equal(issuer + "connect/revoke", root.GetProperty("revocation_endpoint").GetString());
        Assert.Equal(issuer + "connect/userinfo", root.GetProperty("userinfo_endpoint").GetString());
        Assert.Equal(issuer + ".well-known/jwks", root.GetProperty("jwks_uri").GetString());
        var grants = root.GetProperty("grant_types_supported").EnumerateArray().Select(g => g.GetString()).ToHashSet();
        Assert.Equal(["authorization_code", "client_credentials", "refresh_token"], grants.Order());
        Assert.Equal(["S256"], root.GetProperty("code_challenge_methods_supported").EnumerateArray().Select(m => m.GetString()));
        Assert.Equal(["code"], root.GetProperty("response_types_supported").EnumerateArray().Select(m => m.GetString()));
    }

    [Fact]
    public async Task Jwks_serves_the_public_signing_key_the_token_key_source_hands_to_validation()
    {
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        var json = await http.GetStringAsync(new Uri("/.well-known/jwks", UriKind.Relative));
        var keys = new JsonWebKeySet(json).Keys;
        var key = Assert.Single(keys);
        Assert.Equal("RSA", key.Kty);
        Assert.Null(key.D); // no private part
        var source = Assert.Single(server.Server.App.Services.GetServices<ITokenKeySource>());
        var sourceKey = Assert.Single(await source.GetKeysAsync(CancellationToken.None));
        Assert.Equal(key.Kid, sourceKey.KeyId);
        Assert.Equal(new Uri(server.BaseAddress, "/").AbsoluteUri, source.Issuer);
    }

    [Fact]
    public async Task Sign_up_then_authorization_code_with_PKCE_gives_an_access_token_for_the_user()
    {
        using var browser = server.Browser();
        var userName = NewUserName();
        var (verifier, challenge) = Browser.Pkce();
        var code = await browser.SignUpAndAuthorizeAsync(userName, Password, challenge);

        var (status, body) = await browser.ExchangeCodeAsync(code, verifier);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Bearer", body.GetProperty("token_type").GetString());
        Assert.True(body.TryGetProperty("refresh_token", out _));
        var accessToken = body.GetProperty("access_token").GetString()!;
        var userId = await server.UserIdAsync(userName);
        var jwt = new JsonWebToken(accessToken);
        Assert.Equal(userId, jwt.Subject);
        Assert.Contains("switchboard", jwt.Audiences);
        Assert.Equal("RS256", jwt.Alg);

        // Signed with the key the token key source gives validation, for its issuer and audience: a connection token.
        var source = server.Server.App.Services.GetRequiredService<ITokenKeySource>();
        var validation = await new JsonWebTokenHandler().ValidateTokenAsync(accessToken, new TokenValidationParameters
        {
            ValidIssuer = source.Issuer,
            ValidAudience = "switchboard",
            IssuerSigningKeys = await source.GetKeysAsync(CancellationToken.None),
            // The server's clock is a fake one, stopped at its start.
            ValidateLifetime = false,
        });
        Assert.True(validation.IsValid, validation.Exception?.Message);

        // userinfo answers for the same user.
        using var request = new HttpRequestMessage(HttpMethod.Get, "/connect/userinfo");
        request.Headers.Authorization = new("Bearer", accessToken);
        using var info = await browser.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, info.StatusCode);
        using var infoBody = JsonDocument.Parse(await info.Content.ReadAsStringAsync());
        Assert.Equal(userId, infoBody.RootElement.GetProperty("sub").GetString());
        Assert.Equal(userName, infoBody.RootElement.GetProperty("preferred_username").GetString());
    }

    [Fact]
    public async Task A_wrong_code_verifier_is_refused()
    {
        using var browser = server.Browser();
        var (_, challenge) = Browser.Pkce();
        var code = await browser.SignUpAndAuthorizeAsync(NewUserName(), Password, challenge);

        var (status, body) = await browser.ExchangeCodeAsync(code, Browser.Pkce().Verifier);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_grant", body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task A_code_without_a_verifier_is_refused()
    {
        using var browser = server.Browser();
        var (_, challenge) = Browser.Pkce();
        var code = await browser.SignUpAndAuthorizeAsync(NewUserName(), Password, challenge);

        var (status, _) = await browser.TokenAsync(new()
        {
            ["grant_type"] = "authorization_code",
            ["client_id"] = Browser.ClientId,
            ["code"] = code,
            ["redirect_uri"] = IdentityServer.RedirectUri,
        });

        Assert.Equal(HttpStatusCode.BadRequest, status);
    }

    [Fact]
    public async Task A_replayed_code_is_refused()
    {
        using var browser = server.Browser();
        var (verifier, challenge) = Browser.Pkce();
        var code = await browser.SignUpAndAuthorizeAsync(NewUserName(), Password, challenge);
        var (first, _) = await browser.ExchangeCodeAsync(code, verifier);
        Assert.Equal(HttpStatusCode.OK, first);

        var (status, body) = await browser.ExchangeCodeAsync(code, verifier);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_grant", body.GetProperty("error").GetString());
    }

    [Theory]
    [InlineData(IdentityServer.RedirectUri + "/")]
    [InlineData(IdentityServer.RedirectUri + "?next=x")]
    [InlineData("https://APP.example/callback")]
    [InlineData("https://evil.example/callback")]
    public async Task A_redirect_uri_that_is_not_an_exact_match_is_refused_without_redirecting(string redirectUri)
    {
        using var browser = server.Browser();
        var (_, challenge) = Browser.Pkce();

        using var response = await browser.GetAsync(Browser.AuthorizeUrl(challenge, redirectUri));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Null(response.Headers.Location);
    }

    [Fact]
    public async Task Plain_PKCE_and_the_implicit_flow_are_refused()
    {
        using var browser = server.Browser();
        var (verifier, _) = Browser.Pkce();
        using var plain = await browser.GetAsync(Browser.AuthorizeUrl(verifier, method: "plain"));
        Assert.NotEqual(HttpStatusCode.OK, plain.StatusCode);
        Assert.DoesNotContain("code=", plain.Headers.Location?.Query ?? "", StringComparison.Ordinal);

        using var implicitFlow = await browser.GetAsync(Browser.AuthorizeUrl(Browser.Pkce().Challenge).Replace("response_type=code", "response_type=token", StringComparison.Ordinal));
        Assert.DoesNotContain("access_token=", implicitFlow.Headers.Location?.OriginalString ?? "", StringComparison.Ordinal);
        Assert.NotEqual(HttpStatusCode.OK, implicitFlow.StatusCode);
    }

    [Fact]
    public async Task The_password_grant_is_refused()
    {
        using var browser = server.Browser();
        var userName = NewUserName();
        await server.CreateUserAsync(userName, Password);

        var (status, body) = await browser.TokenAsync(new()
        {
            ["grant_type"] = "password",
            ["client_id"] = Browser.ClientId,
            ["username"] = userName,
            ["password"] = Password,
        });

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("unsupported_grant_type", body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Client_credentials_give_a_bot_an_access_token_for_its_client_id()
    {
        using var api = server.Api();
        var clientId = "bot-" + Guid.NewGuid().ToString("N")[..8];
        using var created = await api.PostAsync("/api/identity/clients", IdentityServer.Json(new { client_id = clientId, display_name = "Trading bot" }));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using var createdBody = JsonDocument.Parse(await created.Content.ReadAsStringAsync());
        var secret = createdBody.RootElement.GetProperty("client_secret").GetString()!;
        using var browser = server.Browser();

        var (status, body) = await browser.TokenAsync(new() { ["grant_type"] = "client_credentials", ["client_id"] = clientId, ["client_secret"] = secret });

        Assert.Equal(HttpStatusCode.OK, status);
        var jwt = new JsonWebToken(body.GetProperty("access_token").GetString());
        Assert.Equal(clientId, jwt.Subject);
        Assert.Contains("switchboard", jwt.Audiences);

        var (wrong, wrongBody) = await browser.TokenAsync(new() { ["grant_type"] = "client_credentials", ["client_id"] = clientId, ["client_secret"] = secret + "x" });
        Assert.Equal(HttpStatusCode.Unauthorized, wrong);
        Assert.Equal("invalid_client", wrongBody.GetProperty("error").GetString());
    }

    [Fact]
    public async Task The_public_demo_client_cannot_use_client_credentials()
    {
        using var browser = server.Browser();

        var (status, _) = await browser.TokenAsync(new() { ["grant_type"] = "client_credentials", ["client_id"] = Browser.ClientId });

        Assert.Equal(HttpStatusCode.BadRequest, status);
    }

    [Fact]
    public async Task A_refresh_token_rotates_and_the_used_one_is_refused()
    {
        using var browser = server.Browser();
        var (verifier, challenge) = Browser.Pkce();
        var code = await browser.SignUpAndAuthorizeAsync(NewUserName(), Password, challenge);
        var (_, tokens) = await browser.ExchangeCodeAsync(code, verifier);
        var first = tokens.GetProperty("refresh_token").GetString()!;

        var (status, refreshed) = await browser.RefreshAsync(first);
        Assert.Equal(HttpStatusCode.OK, status);
        var second = refreshed.GetProperty("refresh_token").GetString()!;
        Assert.NotEqual(first, second);
        Assert.Equal(new JsonWebToken(tokens.GetProperty("access_token").GetString()).Subject,
            new JsonWebToken(refreshed.GetProperty("access_token").GetString()).Subject);

        var (reused, reusedBody) = await browser.RefreshAsync(first);
        Assert.Equal(HttpStatusCode.BadRequest, reused);
        Assert.Equal("invalid_grant", reusedBody.GetProperty("error").GetString());

        // A reuse means the token leaked: the whole chain is revoked, the thief's newer token too.
        var (afterReuse, _) = await browser.RefreshAsync(second);
        Assert.Equal(HttpStatusCode.BadRequest, afterReuse);
    }

    [Fact]
    public async Task A_revoked_refresh_token_is_refused()
    {
        using var browser = server.Browser();
        var (verifier, challenge) = Browser.Pkce();
        var code = await browser.SignUpAndAuthorizeAsync(NewUserName(), Password, challenge);
        var (_, tokens) = await browser.ExchangeCodeAsync(code, verifier);
        var refreshToken = tokens.GetProperty("refresh_token").GetString()!;

        using var revoked = await browser.Http.PostAsync(new Uri("/connect/revoke", UriKind.Relative), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["client_id"] = Browser.ClientId,
            ["token"] = refreshToken,
            ["token_type_hint"] = "refresh_token",
        }));
        Assert.Equal(HttpStatusCode.OK, revoked.StatusCode);

        var (status, body) = await browser.RefreshAsync(refreshToken);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_grant", body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task A_user_created_by_the_operator_signs_in()
    {
        var userName = NewUserName();
        var userId = await server.CreateUserAsync(userName, Password);
        using var browser = server.Browser();
        var (verifier, challenge) = Browser.Pkce();

        var code = await browser.SignInAndAuthorizeAsync(userName, Password, challenge);
        var (status, body) = await browser.ExchangeCodeAsync(code, verifier);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(userId, new JsonWebToken(body.GetProperty("access_token").GetString()).Subject);
    }
}

/// <summary>With SQLite (the embedded default).</summary>
[Collection(IdentityCollection.Name)]
public sealed class SqliteOAuthFlowTests(IdentityServer server) : OAuthFlowTests(server);

/// <summary>With a real PostgreSQL server.</summary>
[Collection(PostgresIdentityCollection.Name)]
public sealed class PostgresOAuthFlowTests(PostgresIdentityServer server) : OAuthFlowTests(server)
{
    [Fact]
    public async Task The_users_and_clients_are_stored_in_PostgreSQL()
    {
        await server.CreateUserAsync("pg-" + Guid.NewGuid().ToString("N")[..8], "correct horse battery");
        await using var scope = server.Server.App.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<Switchboard.Identity.Data.IdentityDb>();

        Assert.True(Microsoft.EntityFrameworkCore.NpgsqlDatabaseFacadeExtensions.IsNpgsql(db.Database));
        Assert.True(await Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.AnyAsync(db.Users));
        Assert.True(await Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.AnyAsync(db.Set<OpenIddict.EntityFrameworkCore.Models.OpenIddictEntityFrameworkCoreApplication>()));
    }
}
