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

    private static async Task<string> KidAsync(Uri baseAddress)
    {
        using var http = new HttpClient { BaseAddress = baseAddress };
        var keys = new JsonWebKeySet(await http.GetStringAsync(new Uri("/.well-known/jwks", UriKind.Relative))).Keys;
        return Assert.Single(keys).Kid;
    }
}
