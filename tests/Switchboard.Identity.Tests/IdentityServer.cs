using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;

namespace Switchboard.Identity.Tests;

/// <summary>
/// The real server in process with the built-in OAuth server on, its own SQLite file, and the demo
/// client's redirect URI set to <see cref="RedirectUri"/>.
/// </summary>
public class IdentityServer : IAsyncLifetime
{
    public const string RedirectUri = "https://app.example/callback";

    private InProcessServer? _server;

    public string DatabaseFile { get; } = Path.Combine(Path.GetTempPath(), $"switchboard-identity-{Guid.NewGuid():N}", "identity.db");

    internal InProcessServer Server => _server ?? throw new InvalidOperationException("not started");

    public Uri BaseAddress => Server.BaseAddress;

    // The flow tests sign in and redeem tokens many times a minute from one address: the sign-in
    // and token rate limits are off here (RateLimitTests checks them on their own servers).
    public string[] Arguments =>
    [
        .. DatabaseArguments,
        "--Switchboard:Identity:Enabled=true",
        $"--Switchboard:Identity:DemoRedirectUris:0={RedirectUri}",
        "--Switchboard:RateLimits:SignIn:PermitLimit=0",
        "--Switchboard:RateLimits:Token:PermitLimit=0",
    ];

    protected virtual string[] DatabaseArguments => [$"--Switchboard:Database:ConnectionString=Data Source={DatabaseFile}"];

    protected virtual Task StartDatabaseAsync() => Task.CompletedTask;

    protected virtual Task StopDatabaseAsync() => Task.CompletedTask;

    public async Task InitializeAsync()
    {
        await StartDatabaseAsync();
        _server = await InProcessServer.StartAsync(Arguments);
    }

    /// <summary>Stops the server and keeps its database (a restart starts another on it).</summary>
    public async Task StopServerAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
            _server = null;
        }
    }

    public async Task DisposeAsync()
    {
        await StopServerAsync();
        await StopDatabaseAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(Path.GetDirectoryName(DatabaseFile)))
        {
            Directory.Delete(Path.GetDirectoryName(DatabaseFile)!, recursive: true);
        }
    }

    public HttpClient Api() => Server.Api();

    /// <summary>A browser: keeps cookies, does not follow redirects (the tests look at each).</summary>
    public Browser Browser() => new(BaseAddress);

    public async Task<string> UserIdAsync(string userName)
    {
        await using var scope = Server.App.Services.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<IdentityUser>>();
        return (await users.FindByNameAsync(userName))!.Id;
    }

    public async Task<string> CreateUserAsync(string userName, string password)
    {
        using var api = Api();
        using var response = await api.PostAsync("/api/identity/users", Json(new { username = userName, password }));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return body.RootElement.GetProperty("id").GetString()!;
    }

    public static StringContent Json(object value) => new(JsonSerializer.Serialize(value), System.Text.Encoding.UTF8, "application/json");
}

/// <summary>The same server with its users and OAuth stores in a real PostgreSQL server of its own.</summary>
public sealed class PostgresIdentityServer : IdentityServer
{
    private PostgresServer? _postgres;

    protected override string[] DatabaseArguments =>
    [
        "--Switchboard:Database:Provider=postgres",
        "--Switchboard:Database:ConnectionString=" + (_postgres ?? throw new InvalidOperationException("not started")).ConnectionString("switchboard"),
    ];

    protected override async Task StartDatabaseAsync() => _postgres = await PostgresServer.StartAsync();

    protected override async Task StopDatabaseAsync()
    {
        Npgsql.NpgsqlConnection.ClearAllPools();
        if (_postgres is not null)
        {
            await _postgres.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class IdentityCollection : ICollectionFixture<IdentityServer>
{
    public const string Name = "identity server";
}

[CollectionDefinition(Name)]
public sealed class PostgresIdentityCollection : ICollectionFixture<PostgresIdentityServer>
{
    public const string Name = "identity server on PostgreSQL";
}
