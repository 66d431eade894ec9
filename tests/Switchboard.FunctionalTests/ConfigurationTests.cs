using Microsoft.Extensions.Options;
using Switchboard.Server.Hosting;

namespace Switchboard.FunctionalTests;

public class ConfigurationTests
{
    [Fact]
    public void A_bad_option_value_fails_at_start_up_naming_its_key()
    {
        var e = Assert.Throws<OptionsValidationException>(() => SwitchboardApp.Build(["--urls", "http://127.0.0.1:0", "--Switchboard:Namespaces:news:HistorySize=10"]));
        Assert.Contains("Switchboard:Namespaces:news:HistoryTtl", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_key_fails_at_start_up_naming_it()
    {
        var e = Assert.Throws<OptionsValidationException>(() => SwitchboardApp.Build(["--urls", "http://127.0.0.1:0", "--Switchboard:Namespaces:news:HistorySise=10", "--Switchboard:Clinet:PingInterval=00:00:10"]));
        Assert.Contains(e.Failures, f => f.StartsWith("Switchboard:Namespaces:news:HistorySise: unknown option", StringComparison.Ordinal));
        Assert.Contains(e.Failures, f => f.StartsWith("Switchboard:Clinet: unknown option", StringComparison.Ordinal));
    }

    [Fact]
    public void A_value_of_the_wrong_type_fails_at_start_up_naming_its_key()
    {
        var e = Assert.Throws<InvalidOperationException>(() => SwitchboardApp.Build(["--urls", "http://127.0.0.1:0", "--Switchboard:Client:PingInterval=often"]));
        Assert.Contains("Switchboard:Client:PingInterval", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_process_exits_with_code_2_on_bad_configuration()
        => Assert.Equal(2, await SwitchboardApp.RunAsync(["--urls", "http://127.0.0.1:0", "--Switchboard:Token:HmacSecretKey=short"]));
}
