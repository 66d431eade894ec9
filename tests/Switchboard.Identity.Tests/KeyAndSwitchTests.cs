using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.Tokens;
using Switchboard.Auth;

namespace Switchboard.Identity.Tests;

/// <summary>Keys shared across restarts (and so across nodes of one database); the server switched off.</summary>
public sealed class KeyAndSwitchTests
{
    [Fact]
    public async Task The_signing_key_survives_a_restart_on_the_same_database()
    {
        var fixture = new IdentityServer();
        await fixture.InitializeAsync();
        string firstKid;
        try
        {
            firstKid = await KidAsync(fixture.BaseAddress);
            await fixture.StopServerAsync();
            await using var second = await InProcessServer.StartAsync(fixture.Arguments);
            Assert.Equal(firstKid, await KidAsync(second.BaseAddress));
        }
        finally
        {
            await fixture.DisposeAsync();
        }
    }

    [Fact]
    public async Task Two_nodes_on_one_database_sign_with_the_same_key()
    {
        var fixture = new IdentityServer();
        await fixture.InitializeAsync();
        try
        {
            await using var second = await InProcessServer.StartAsync(fixture.Arguments);
            Assert.Equal(await KidAsync(fixture.BaseAddress), await KidAsync(second.BaseAddress));
        }
        finally
        {
            await fixture.DisposeAsync();
        }
    }

    [Fact]
    public async Task Switched_off_it_serves_no_endpoints_and_gives_validation_no_keys()
    {
        await using var server = await InProcessServer.StartAsync(["--Switchboard:Identity:Enabled=false"]);
        using var http = new HttpClient { BaseAddress = server.BaseAddress };

        using var discovery = await http.GetAsync(new Uri("/.well-known/openid-configuration", UriKind.Relative));
        using var signIn = await http.GetAsync(new Uri("/identity/signin", UriKind.Relative));

        Assert.Equal(HttpStatusCode.NotFound, discovery.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, signIn.StatusCode);
        Assert.Empty(server.App.Services.GetServices<ITokenKeySource>());
    }

    [Fact]
    public async Task A_configured_pem_key_and_issuer_sign_and_name_the_tokens()
    {
        using var rsa = System.Security.Cryptography.RSA.Create(2048);
        var fixture = new IdentityServer();
        var pem = Path.Combine(Path.GetDirectoryName(fixture.DatabaseFile)!, "signing.pem");
        Directory.CreateDirectory(Path.GetDirectoryName(pem)!);
        await File.WriteAllTextAsync(pem, rsa.ExportPkcs8PrivateKeyPem());
        const string issuer = "https://rt.example.com/";
        var server = await InProcessServer.StartAsync([.. fixture.Arguments,
            "--Switchboard:Identity:SigningKeyPath=" + pem, "--Switchboard:Identity:Issuer=" + issuer]);
        try
        {
            using var http = server.Api();
            var jwks = new JsonWebKeySet(await http.GetStringAsync(new Uri("/.well-known/jwks", UriKind.Relative)));
            Assert.Equal(Base64UrlEncoder.Encode(rsa.ExportParameters(false).Modulus), Assert.Single(jwks.Keys).N);
            using var discovery = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync(new Uri("/.well-known/openid-configuration", UriKind.Relative)));
            Assert.Equal(issuer, discovery.RootElement.GetProperty("issuer").GetString());
            Assert.Equal(issuer, server.App.Services.GetRequiredService<ITokenKeySource>().Issuer);

            using var created = await http.PostAsync("/api/identity/clients", IdentityServer.Json(new { client_id = "pem-bot" }));
            using var body = System.Text.Json.JsonDocument.Parse(await created.Content.ReadAsStringAsync());
            using var token = await http.PostAsync(new Uri("/connect/token", UriKind.Relative), new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "client_credentials",
                ["client_id"] = "pem-bot",
                ["client_secret"] = body.RootElement.GetProperty("client_secret").GetString()!,
            }));
            using var tokenBody = System.Text.Json.JsonDocument.Parse(await token.Content.ReadAsStringAsync());
            var validation = await new Microsoft.IdentityModel.JsonWebTokens.JsonWebTokenHandler().ValidateTokenAsync(
                tokenBody.RootElement.GetProperty("access_token").GetString(), new TokenValidationParameters
                {
                    ValidIssuer = issuer,
                    ValidAudience = "switchboard",
                    IssuerSigningKey = new RsaSecurityKey(rsa.ExportParameters(false)),
                    ValidateLifetime = false,
                });
            Assert.True(validation.IsValid, validation.Exception?.Message);
        }
        finally
        {
            await server.DisposeAsync();
            await fixture.DisposeAsync();
        }
    }

    private static async Task<string> KidAsync(Uri baseAddress)
    {
        using var http = new HttpClient { BaseAddress = baseAddress };
        var keys = new JsonWebKeySet(await http.GetStringAsync(new Uri("/.well-known/jwks", UriKind.Relative))).Keys;
        return Assert.Single(keys).Kid;
    }
}
